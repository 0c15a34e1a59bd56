"""geoplan's version (one place: the package, the manifests and run records read it)."""

__all__ = [
    "__version__",
]

__version__ = "0.1.0"
