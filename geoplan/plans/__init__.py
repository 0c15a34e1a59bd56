"""Plans: what the health plans say (rule packs with their citations, the indicator table,
the plans' places), independent of any one project.
"""

__all__ = [
    "indicators",
    "packs",
    "places",
]
