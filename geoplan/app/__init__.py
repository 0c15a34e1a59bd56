"""``geoplan serve``: the local web application for planners who do not write TOML.

From a county's name (or a boundary) and the facility Excel list to the coverage map, gap
lists and report, in the browser, in Chinese (English a click away). A project is an ordinary
project folder that ``geoplan run`` reruns. The app is a thin workflow over the library's
public functions: :mod:`~geoplan.app.server` the command, :mod:`~geoplan.app.web` the pages,
:mod:`~geoplan.app.text` their labels, :mod:`~geoplan.app.projects` the folders,
:mod:`~geoplan.app.review` the facility checks, :mod:`~geoplan.app.preview` the preview map,
:mod:`~geoplan.app.runs` the background runs, :mod:`~geoplan.app.sources` the place registry
and data fetching.

Needs the ``app`` extra (``pip install "geoplan[app]"``: Flask, Flask-WTF, waitress).
"""

__all__ = ["preview", "projects", "review", "runs", "server", "sources", "text", "web"]
