# %% [markdown]
# # geoplan from Python: the demo area, 团城山街道 (Huangshi)
#
# A notebook in percent format (Jupyter, VS Code and jupytext open it as cells); it also runs
# top to bottom as a script: `python docs/example_notebook.py` (the map goes to
# `$GEOPLAN_EXAMPLE_OUT`, default `example_out/`). Everything it reads ships with geoplan.
# The demo's facilities are a hypothetical scenario, not the real facilities of 团城山街道.
# Streets © OpenStreetMap contributors (ODbL 1.0); population GHS-POP R2023A (CC BY 4.0).

# %%
import os
from pathlib import Path

import geoplan as gp

OUT = Path(os.environ.get("GEOPLAN_EXAMPLE_OUT", "example_out"))

# %% [markdown]
# ## Read the inputs
# Each reader checks its file and returns a table: the street network (projected, metres),
# the facilities (used rows and rejected rows with their reason), the residents (points with
# population: here GHS-POP cells spread along the streets every 50 m) and the units.

# %%
network = gp.read_network(gp.shipped_path("osm/huangshi_tuanchengshan_all_2022.graphml.gz"))
facilities = gp.read_facilities(
    gp.shipped_path("facilities/tuanchengshan_scenario.csv"), crs="wgs84"
)
demand = gp.read_demand(
    gp.shipped_path("osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz"),
    population_column="population",
    group_column="cell_id",
    spacing_m=50,
)
units = gp.read_units(gp.shipped_path("boundaries/huangshi_tuanchengshan_official.geojson"))
print(network)
print(f"{len(facilities.used)} facilities used, {len(facilities.rejects)} rejected")
print(f"{len(demand):,} demand points, {demand['population'].sum():,.0f} residents")

# %% [markdown]
# ## The circles
# A rule is one circle of a plan: which facilities, which mode, how many minutes (inclusive:
# a resident 15.0 minutes away is inside) and the plan's target share.

# %%
rules = [
    gp.Rule(
        "medical_walk_15",
        "15分钟步行可达医疗卫生机构",
        "Medical facility within a 15-minute walk",
        ("medical",),
        "walk",
        15.0,
        target_share=1.0,
    ),
    gp.Rule(
        "fitness_walk_15",
        "15分钟健身圈（步行）",
        "Fitness venue within a 15-minute walk",
        ("fitness",),
        "walk",
        15.0,
        target_share=1.0,
    ),
]

# %% [markdown]
# ## Coverage
# One multi-source Dijkstra per rule on the street graph; every resident's time to the
# nearest facility of the rule. The inputs are checked first, as `geoplan run` checks them.

# %%
cov = gp.coverage(network, facilities, demand, rules, units)
for rule in rules:
    print(f"{rule.name_en}: {cov.share(rule.id):.1%} of residents")
by_unit = cov.by_unit()
points = cov.points()  # a GeoDataFrame: one row per resident location, per-rule columns
print(by_unit[["unit_name", "population", "medical_walk_15_share_covered"]])

# %% [markdown]
# ## Where the uncovered live
# Uncovered residents per 500 m cell, largest first (the unreachable apart).

# %%
gaps = gp.find_gaps(cov, "medical_walk_15")
print(gaps[["rank", "population", "median_travel_time_s", "nearest_facility_name"]].head())

# %% [markdown]
# ## The long travel-time table
# Every resident–facility pair within 15 minutes: the input of 2SFCA and of the siting models.

# %%
times = gp.travel_times(network, facilities, demand, mode="walk", cutoff_s=15 * 60)
print(f"{len(times):,} pairs within 15 minutes")

# %% [markdown]
# ## The map
# The map `geoplan run` draws, as a folium Map (in a notebook, the cell's value shows it);
# saved, it is one self-contained HTML file that opens offline.

# %%
m = gp.coverage_map(
    cov,
    gaps=gp.find_gaps(cov),
    title=("团城山街道 设施可达性", "Tuanchengshan: facility access"),
    attribution=[
        "© OpenStreetMap contributors, ODbL 1.0",
        "GHS-POP R2023A, European Commission JRC, CC BY 4.0",
    ],
    hypothetical=True,
)
OUT.mkdir(parents=True, exist_ok=True)
gp.save_map(m, OUT / "map.html")
print(f"map written to {OUT / 'map.html'}")

# %% [markdown]
# ## A whole project file
# The same through a project file (what `geoplan demo` runs), without writing anything.

# %%
result = gp.compute_project(gp.load_project(gp.DEMO_PROJECT))
for row in result.summary["rules"]:
    print(f"{row['name_en']}: {row['share_covered']:.1%}")
