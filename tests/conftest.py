"""Shared fixtures: the real data beside the repo (never skipped silently)."""

from __future__ import annotations

import pytest

from geoplan._paths import shared_path


@pytest.fixture(scope="session")
def tuanchengshan_walk():
    """The 团城山 2022 walking network (osmnx GraphML), loaded once."""
    from geoplan.network import read_network

    return read_network(shared_path("osm/huangshi_tuanchengshan_all_2022.graphml"))
