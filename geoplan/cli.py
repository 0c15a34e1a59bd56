"""Command line: parse, call the library, exit 0 (ok), 1 (user error) or 2 (usage)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._paths import DEMO_PROJECT
from .errors import ConfigError, GeoplanError, Interrupted

__all__ = [
    "main",
]


@dataclass(frozen=True)
class _Command:
    """One ``geoplan`` command: its help line, its arguments and what it does (the exit
    code it returns)."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handle: Callable[[argparse.Namespace], int]


_COMMANDS: dict[str, _Command] = {}
"""The command table, in the order ``geoplan --help`` lists it."""


def _command(
    name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None]
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register the decorated handler as the command ``name`` with its ``arguments``."""

    def register(handle: Callable[[argparse.Namespace], int]) -> Callable:
        if name in _COMMANDS:
            raise AssertionError(f"command {name!r} registered twice")
        _COMMANDS[name] = _Command(name, help, arguments, handle)
        return handle

    return register


class _Parser(argparse.ArgumentParser):
    """No prefix matching, in every command: ``--dem`` is never read as ``--demand``, nor any
    other option as a longer one (argparse's subcommands are made of the parent's class)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="geoplan", description="Health- and fitness-facility coverage planning for China."
    )
    _add_verbosity(parser, default=True)
    sub = parser.add_subparsers(dest="command", required=True)  # each a _Parser too
    for command in _COMMANDS.values():
        one = sub.add_parser(command.name, help=command.help)
        command.arguments(one)
        _add_verbosity(one, default=False)  # -v/-q also after the command name
        one.set_defaults(handle=command.handle)
    return parser


def _add_verbosity(parser: argparse.ArgumentParser, *, default: bool) -> None:
    verbose = {"default": 0} if default else {"default": argparse.SUPPRESS}
    quiet = {"default": False} if default else {"default": argparse.SUPPRESS}
    parser.add_argument(
        "-v", "--verbose", action="count", help="more logging (-vv: tracebacks)", **verbose
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress, info or summary lines (warnings are still printed)",
        **quiet,
    )


# --------------------------------------------------------------------------- shared options


def _add_map_options(parser: argparse.ArgumentParser) -> None:
    from .rendering.map_options import BASEMAPS, LANGS

    parser.add_argument("--lang", choices=LANGS, help="one map in this language (default: [map])")
    parser.add_argument(
        "--basemap",
        choices=tuple(BASEMAPS),
        help="map tiles (default: [map] basemap, else none = offline); tianditu reads its key "
        "from $GEOPLAN_TIANDITU_KEY",
    )


def _add_keep_duplicates(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep-duplicates",
        action="store_true",
        help="use records of the same name and type within 50 m all (default: one is kept, "
        "the others rejected as duplicate)",
    )


def _add_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def _add_project(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "project", type=Path, help="project file, e.g. data/demo/tuanchengshan.toml"
    )


# --------------------------------------------------------------------------- run, demo


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    from .workflows.config import PER_POINT_CHOICES

    _add_project(parser)
    _add_out(parser)
    _add_map_options(parser)
    parser.add_argument(
        "--per-point",
        choices=PER_POINT_CHOICES,
        help="per-point tables (coverage_points.csv, the uncovered_points layer): auto writes "
        "them up to [outputs] per_point_max_points demand points (default: [outputs] per_point)",
    )


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    _add_out(parser)
    _add_map_options(parser)


@_command("run", "run a project file (TOML) and write its outputs", _run_arguments)
def _run(args: argparse.Namespace, *, project: Path | None = None, name: str = "run") -> int:
    from .workflows.project import run_project

    result = run_project(
        project or args.project,
        args.out,
        overwrite=args.overwrite,
        progress=not args.quiet,
        lang=args.lang,
        basemap=args.basemap,
        command=name,
        per_point=getattr(args, "per_point", None),
    )
    if not args.quiet:
        _print_summary(result.summary, args.out)
    return 0


@_command("demo", "run the demo project (团城山街道, 黄石)", _demo_arguments)
def _demo(args: argparse.Namespace) -> int:
    return _run(args, project=DEMO_PROJECT, name="demo")


# --------------------------------------------------------------------------- traveltimes


def _traveltimes_arguments(parser: argparse.ArgumentParser) -> None:
    from .analysis.rules import MODES

    parser.add_argument("--network", type=Path, required=True, help="OSM XML/PBF, GraphML, lines")
    parser.add_argument("--facilities", type=Path, required=True, help="facility records")
    parser.add_argument("--demand", type=Path, required=True, help="demand points, lines or raster")
    parser.add_argument("--mode", choices=MODES, default="walk")
    parser.add_argument(
        "--walk-speed", type=float, help="walking speed in m/min (default: as in project files)"
    )
    parser.add_argument(
        "--crs", help="coordinate system of the facilities: wgs84, cgcs2000, gcj02, bd09, EPSG:…"
    )
    parser.add_argument(
        "--dem",
        type=Path,
        help="elevation raster (GeoTIFF, SRTM .hgt/.hgt.zip): walking follows Tobler's hiking "
        "function of each street's grade (uphill slower than downhill)",
    )
    parser.add_argument(
        "--dem-missing",
        choices=("refuse", "flat"),
        default="refuse",
        help="streets outside the DEM or on nodata: refuse (default) or walk them as flat "
        "(reported)",
    )
    _add_keep_duplicates(parser)
    parser.add_argument(
        "--out", type=Path, required=True, help="output table: .csv, .xlsx or .parquet"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")


@_command(
    "traveltimes", "nearest facility and travel time per demand point", _traveltimes_arguments
)
def _traveltimes(args: argparse.Namespace) -> int:
    from .readers.network import DEFAULT_WALK_SPEED_M_PER_MIN
    from .workflows.project import write_travel_times

    table = write_travel_times(
        network=args.network,
        facilities=args.facilities,
        demand=args.demand,
        mode=args.mode,
        walk_speed_m_per_min=(
            DEFAULT_WALK_SPEED_M_PER_MIN if args.walk_speed is None else args.walk_speed
        ),
        out=args.out,
        overwrite=args.overwrite,
        crs=args.crs,
        keep_duplicates=args.keep_duplicates,
        dem=args.dem,
        dem_missing=args.dem_missing,
    )
    if not args.quiet:
        print(f"wrote {len(table)} rows to {args.out}")
    return 0


# --------------------------------------------------------------------------- batch


def _batch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config",
        type=Path,
        nargs="?",
        help="folder of project TOML files, or a batch TOML file ([[areas]]/[batch], or "
        "[national]: flags override its keys)",
    )
    parser.add_argument(
        "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786 (default: local)"
    )
    parser.add_argument("--workers", type=int, help="local workers (default: min(CPUs, areas))")
    national = parser.add_argument_group(
        "national inputs / 全国数据",
        "one run per county cut from national inputs; resumable (finished counties are kept)",
    )
    national.add_argument(
        "--national",
        type=Path,
        metavar="TEMPLATE",
        help="project file whose [network] (PBF or road lines), [demand] (raster or points) "
        "and [facilities] (the registry) are national",
    )
    national.add_argument(
        "--counties",
        default=None,
        help='adcodes, comma-separated, or "all" (every county and district: geoplan[counties])',
    )
    national.add_argument(
        "--boundaries",
        type=Path,
        help="polygon layer of the counties (code and name columns) instead of the registry",
    )
    national.add_argument(
        "--buffer-m",
        type=float,
        help="travel buffer around each county, metres (default: the rules' farthest reach)",
    )
    national.add_argument(
        "--stop-after", type=int, help="run at most this many of the counties still to do"
    )
    parser.add_argument(
        "--out", type=Path, help="output folder (required unless the [national] table gives out)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


@_command("batch", "run many areas on Dask and merge their summaries", _batch_arguments)
def _batch(args: argparse.Namespace) -> int:
    if args.national is not None or _has_national_table(args.config):
        return _national(args)
    if args.config is None:
        raise ConfigError("give a batch file or folder, or --national TEMPLATE --counties …")
    if args.out is None:
        raise ConfigError("--out is required: the batch's output folder")
    from .workflows.batch import run_batch

    table = run_batch(
        args.config,
        args.out,
        scheduler=args.scheduler,
        n_workers=args.workers,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    if not args.quiet:
        print(f"{table['slug'].nunique()} areas, {len(table)} area × rule rows")
        print(f"outputs in {args.out} (batch_summary.csv, index.html)")
    return 0


def _national(args: argparse.Namespace) -> int:
    from .workflows.national import run_national, run_national_file

    flags = {
        "template": args.national,
        "counties": args.counties,
        "boundaries": args.boundaries,
        "buffer_m": args.buffer_m,
        "scheduler": args.scheduler,
        "n_workers": args.workers,
        "out_dir": args.out,
    }
    common = {
        "overwrite": args.overwrite,
        "progress": not args.quiet,
        "stop_after": args.stop_after,
    }
    if args.config is not None:  # a batch file with [national]: the flags override its keys
        table = run_national_file(args.config, **flags, **common)
        out = args.out or table.attrs.get("out_dir")
    else:
        if not args.counties:
            raise ConfigError(
                '--national 需要 --counties / --national needs --counties (adcodes or "all")'
            )
        if args.out is None:
            raise ConfigError("--out is required: the national output folder")
        table = run_national(**flags, **common)
        out = args.out
    status = table.drop_duplicates("slug")["status"].value_counts().to_dict()
    if not args.quiet:
        print(
            f"{table['slug'].nunique()} 个区县 / counties: "
            + ", ".join(f"{k} {v}" for k, v in status.items())
        )
        print(f"outputs in {out} (national_summary.csv/.xlsx, index.html, counties/)")
    return 1 if status.get("failed") or status.get("not_run") else 0


def _has_national_table(config: Path | None) -> bool:
    """Whether ``config`` is a batch file with a ``[national]`` table (checked later)."""
    import tomllib

    if config is None or not config.is_file():
        return False
    try:
        return "national" in tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # the batch reader says what is wrong with it


# --------------------------------------------------------------------------- check-facilities


def _check_facilities_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="facility records (CSV, XLSX, GeoJSON, GPKG …)")
    parser.add_argument("--boundary", type=Path, help="study-area polygons (any layer, or GraphML)")
    parser.add_argument("--network", type=Path, help="street network (OSM, GraphML, road lines)")
    parser.add_argument("--crs", help="coordinate system: wgs84, cgcs2000, gcj02, bd09, EPSG:…")
    parser.add_argument("--sheet", help="worksheet of a workbook (default: first non-empty)")
    _add_keep_duplicates(parser)
    parser.add_argument(
        "--out", type=Path, help="folder for qa.csv and rejects.csv (default: <file stem>_qa)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


@_command(
    "check-facilities",
    "check a facility file: rejects and QA findings (zh/en)",
    _check_facilities_arguments,
)
def _check_facilities(args: argparse.Namespace) -> int:
    from .workflows.check_facilities import check_facilities_file

    report = check_facilities_file(
        args.file,
        boundary=args.boundary,
        network=args.network,
        crs=args.crs,
        sheet=args.sheet,
        out=args.out,
        overwrite=args.overwrite,
        keep_duplicates=args.keep_duplicates,
    )
    if not args.quiet:
        print(report.text())
    return 0


# --------------------------------------------------------------------------- check


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    _add_project(parser)
    parser.add_argument("--plan", required=True, help="rule pack id (e.g. leshan_shizhong) or file")
    parser.add_argument(
        "--unit-level",
        choices=("village", "township", "county", "city"),
        help="level of the project's units (default: [units] level in the project file)",
    )
    parser.add_argument(
        "--assume",
        action="append",
        default=[],
        metavar="ID=OPTION",
        help="another reading of one of the pack's assumptions, e.g. fitness_venues=all "
        "(repeatable; the pack lists them)",
    )
    _add_out(parser)


@_command("check", "check a project against a plan's rule pack", _check_arguments)
def _check(args: argparse.Namespace) -> int:
    from .workflows.plan_check import describe, parse_assume, run_check

    result = run_check(
        args.project,
        args.plan,
        args.out,
        overwrite=args.overwrite,
        unit_level=args.unit_level,
        assume=parse_assume(args.assume),
    )
    if not args.quiet:
        print("\n".join(describe(result)))
        print(f"outputs in {args.out} (checks.csv, indicators.csv, summary.json …)")
    return 0


# --------------------------------------------------------------------------- init, fetch


def _init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "place", nargs="?", help="name or adcode, e.g. 平罗县, 乐山市中区, 济南市市中区, 370103"
    )
    parser.add_argument(
        "--boundary", type=Path, help="instead of a place: the area's polygon file (any layer)"
    )
    parser.add_argument("--name", help="with --boundary: the area's name (default: from the file)")
    parser.add_argument(
        "--units-osm",
        type=Path,
        help="OSM extract (PBF/XML) whose boundary=administrative relations give the townships "
        "(乡镇/街道) as units",
    )
    parser.add_argument(
        "--units-level", type=int, help="admin_level of those units (default 8: China's townships)"
    )
    parser.add_argument("--out", type=Path, required=True, help="project folder to create")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")


@_command(
    "init",
    "start a project: any county, district or city of China by name or adcode (with "
    "geoplan[counties]; else the plans' 13 places), or any area (--boundary)",
    _init_arguments,
)
def _init(args: argparse.Namespace) -> int:
    from .workflows.init import init_from_boundary, init_project

    if (args.place is None) == (args.boundary is None):
        raise ConfigError("give a place (e.g. 平罗县) or --boundary FILE, not both")
    units = {"units_osm": args.units_osm, "units_level": args.units_level}
    if args.boundary is not None:
        paths = init_from_boundary(
            args.boundary, args.out, name=args.name, overwrite=args.overwrite, **units
        )
    else:
        if args.name is not None:
            raise ConfigError("--name goes with --boundary (a place has its own name)")
        paths = init_project(args.place, args.out, overwrite=args.overwrite, **units)
    if not args.quiet:
        print(f"wrote {', '.join(paths)} to {args.out}")
        print(f"next: fill in the TODO inputs of {paths['project.toml']}, check its rules")
    return 0


def _fetch_arguments(parser: argparse.ArgumentParser) -> None:
    from .workflows.fetch import DEFAULT_BUFFER_M, DEFAULT_WORLDPOP_YEAR, WORLDPOP_YEARS

    parser.add_argument(
        "project",
        nargs="?",
        type=Path,
        help="project folder (from geoplan init) or its .toml: writes PROJECT/inputs/ and points "
        "the project file at the new files",
    )
    parser.add_argument(
        "--boundary", type=Path, help="instead of a project: the area's polygon file (with --out)"
    )
    parser.add_argument("--out", type=Path, help="with --boundary: the folder to write")
    parser.add_argument("--pbf", type=Path, help="a larger OSM extract (PBF/XML) to cut from")
    parser.add_argument("--raster", type=Path, help="a larger population raster to cut from")
    parser.add_argument(
        "--online",
        action="store_true",
        help="download (OSM streets through the Overpass API, WorldPop population); nothing is "
        "downloaded without it",
    )
    parser.add_argument(
        "--buffer-m",
        type=float,
        default=DEFAULT_BUFFER_M,
        help=f"metres around the boundary to include (default {DEFAULT_BUFFER_M:g})",
    )
    parser.add_argument("--no-network", action="store_true", help="no street network")
    parser.add_argument("--no-population", action="store_true", help="no population raster")
    parser.add_argument(
        "--units",
        action="store_true",
        help="with --pbf: also the townships (乡镇/街道) of the extract as units",
    )
    parser.add_argument(
        "--units-level", type=int, help="admin_level of those units (default 8: townships)"
    )
    parser.add_argument(
        "--population-url", help="with --online: the raster to read (default: WorldPop China)"
    )
    parser.add_argument(
        "--year",
        type=int,
        default=DEFAULT_WORLDPOP_YEAR,
        help="WorldPop year ({}–{}, default {})".format(*WORLDPOP_YEARS, DEFAULT_WORLDPOP_YEAR),
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier fetch")


@_command(
    "fetch",
    "a project's street network and population: cut from files you have (--pbf, --raster) or "
    "download (--online)",
    _fetch_arguments,
)
def _fetch(args: argparse.Namespace) -> int:
    from .workflows import fetch

    if (args.project is None) == (args.boundary is None):
        raise ConfigError(
            "给出项目文件夹或 --boundary FILE --out DIR / give a project folder or --boundary FILE "
            "--out DIR"
        )
    if (args.boundary is None) != (args.out is None):
        raise ConfigError("--out 与 --boundary 同用 / --out goes with --boundary")
    if args.units and args.pbf is None:
        raise ConfigError("--units 需要 --pbf / --units needs --pbf (the townships come from it)")

    def progress(fraction: float | None, message: str) -> None:
        if not args.quiet:
            shown = "" if fraction is None else f"{fraction:4.0%} "
            print(f"geoplan fetch: {shown}{message}", file=sys.stderr)

    common = {"buffer_m": args.buffer_m, "overwrite": args.overwrite, "progress": progress}
    offline = args.pbf is not None or args.raster is not None
    if args.project is not None:
        result = fetch.fetch_project(
            args.project,
            pbf=args.pbf,
            raster=args.raster,
            online=args.online,
            network=not args.no_network,
            population=not args.no_population,
            units=args.units,
            units_level=args.units_level,
            population_url=args.population_url,
            year=args.year,
            **common,
        )
    elif offline:
        if args.online:
            raise ConfigError("--online 与 --pbf/--raster 不能同用 / --online or --pbf/--raster")
        result = fetch.cut_inputs(
            args.boundary,
            args.out,
            pbf=args.pbf,
            raster=None if args.no_population else args.raster,
            network=not args.no_network,
            units=args.units,
            units_level=args.units_level,
            **common,
        )
    else:
        result = fetch.fetch_inputs(
            args.boundary,
            args.out,
            network=not args.no_network,
            population=not args.no_population,
            population_url=args.population_url,
            year=args.year,
            online=args.online,
            **common,
        )
    if not args.quiet:
        for note in result.notes:
            print(note)
        print(f"files in {result.folder}: {', '.join(p.name for p in result.files.values())}")
    return 0


# --------------------------------------------------------------------------- scenario


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "project", type=Path, help="project file, or a scenario file with a [scenario] table"
    )
    parser.add_argument("--add", type=Path, help="facility file with facilities to add")
    parser.add_argument(
        "--close", action="append", default=[], metavar="ID,ID", help="facility ids to close"
    )
    parser.add_argument(
        "--move",
        action="append",
        default=[],
        metavar="ID=LON,LAT",
        help="move a facility to a position (WGS84 unless --crs; repeatable)",
    )
    parser.add_argument(
        "--crs",
        help="coordinate system of --add and --move: wgs84 (default), cgcs2000, gcj02, bd09, "
        "EPSG:…",
    )
    _add_out(parser)


@_command(
    "scenario",
    "what-if: add, close or move facilities; coverage before and after",
    _scenario_arguments,
)
def _scenario(args: argparse.Namespace) -> int:
    from .workflows.scenario import run_scenario_file

    result = run_scenario_file(
        args.project,
        add=args.add,
        close=args.close,
        move=args.move,
        crs=args.crs,
        out=args.out,
        overwrite=args.overwrite,
    )
    if not args.quiet:
        print("\n".join(result.describe()))
        print(f"outputs in {args.out} (scenario_summary.json, scenario_map.html …)")
    return 0


# --------------------------------------------------------------------------- sites, catchments


def _sites_arguments(parser: argparse.ArgumentParser) -> None:
    _add_project(parser)
    parser.add_argument(
        "--rule", required=True, help="rule id (its facilities, mode and threshold)"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--candidates", type=Path, help="candidate sites: a table with id and lon/lat, or points"
    )
    source.add_argument(
        "--grid", type=float, metavar="M", help="candidates on an M-metre grid, snapped to streets"
    )
    source.add_argument(
        "--gap-nodes", action="store_true", help="candidates at the street nodes of the uncovered"
    )
    source.add_argument(
        "--catchments",
        type=int,
        metavar="K",
        help="deprecated: use geoplan catchments PROJECT --rule RULE --k K",
    )
    parser.add_argument(
        "--candidates-crs", help="coordinate system of --candidates (default wgs84)"
    )
    parser.add_argument(
        "--exclude",
        type=Path,
        action="append",
        default=[],
        help="polygons where no site may go (repeatable)",
    )
    parser.add_argument("--model", choices=("mclp", "lscp", "pmedian", "pcenter"), default="mclp")
    parser.add_argument("--p", type=int, help="number of new sites (mclp, pmedian, pcenter)")
    parser.add_argument(
        "--target-share",
        type=float,
        default=1.0,
        help="lscp: share of the coverable residents to cover (default 1)",
    )
    _add_time_limit(parser)
    parser.add_argument("--tier", help=argparse.SUPPRESS)  # only with the deprecated flag
    _add_out(parser)


def _add_time_limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--time-limit", type=float, default=60.0, help="solver time limit, seconds")


@_command("sites", "rank candidate sites and choose new ones for a rule", _sites_arguments)
def _sites(args: argparse.Namespace) -> int:
    from .workflows.sites import describe_sites, run_sites

    if args.catchments is not None:
        print(
            "geoplan: note: `sites --catchments K` is now its own command, "
            "`geoplan catchments PROJECT --rule RULE --k K`; the flag will be removed "
            "/ 片区划分已改为独立命令 geoplan catchments",
            file=sys.stderr,
        )
        args.k = args.catchments
        return _catchments(args)
    if args.tier is not None:
        raise ConfigError("--tier goes with geoplan catchments (sub-centres of one tier)")
    result = run_sites(
        args.project,
        args.out,
        rule=args.rule,
        model=args.model,
        p=args.p,
        candidates=args.candidates,
        candidates_crs=args.candidates_crs,
        grid_m=args.grid,
        gap_nodes=args.gap_nodes,
        exclude=args.exclude,
        target_share=args.target_share,
        time_limit_s=args.time_limit,
        overwrite=args.overwrite,
    )
    if not args.quiet:
        print("\n".join(describe_sites(result)))
        print(f"outputs in {args.out} (selected.csv, sites_map.html …)")
    return 0


def _catchments_arguments(parser: argparse.ArgumentParser) -> None:
    _add_project(parser)
    parser.add_argument(
        "--rule", required=True, help="rule id: its facility categories and travel mode"
    )
    parser.add_argument(
        "--k", type=int, required=True, metavar="K", help="number of sub-centres (hubs)"
    )
    parser.add_argument("--tier", help="only facilities of this tier (e.g. township)")
    _add_time_limit(parser)
    _add_out(parser)


@_command(
    "catchments",
    "片区: K sub-centres among a rule's facilities, and the area each serves",
    _catchments_arguments,
)
def _catchments(args: argparse.Namespace) -> int:
    from .workflows.sites import describe_catchments, run_catchments

    result = run_catchments(
        args.project,
        args.out,
        rule=args.rule,
        k=args.k,
        tier=args.tier,
        time_limit_s=args.time_limit,
        overwrite=args.overwrite,
    )
    if not args.quiet:
        print("\n".join(describe_catchments(result)))
        print(f"outputs in {args.out} (catchments_map.html, catchment_facilities.csv …)")
    return 0


# --------------------------------------------------------------------------- report


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    from .rendering.map_options import LANGS

    parser.add_argument(
        "result_dir", type=Path, help="output folder of run, demo, check, scenario …"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="report file: .html (PDF beside it) or .pdf (HTML beside it); default "
        "RESULT_DIR/report.html, gallery.html for a batch",
    )
    parser.add_argument("--lang", choices=LANGS, default="zh", help="report language")
    parser.add_argument(
        "--pdf",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print a PDF beside the report (default: when Chromium is found)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing reports")


@_command(
    "report",
    "an HTML (and PDF) report of a result folder; a gallery for a batch",
    _report_arguments,
)
def _report(args: argparse.Namespace) -> int:
    from .rendering.report import write_reports

    written = write_reports(
        args.result_dir,
        out=args.out,
        lang=args.lang,
        pdf=args.pdf,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    if not args.quiet:
        for path in [*written.reports, *written.pdfs, written.gallery]:
            if path is not None:
                print(f"wrote {path}")
        for note in written.notes:
            print(f"note: {note}")
    return 0


# --------------------------------------------------------------------------- serve


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    from .app.server import (  # no Flask
        DEFAULT_HOST,
        DEFAULT_MAX_UPLOAD_MB,
        DEFAULT_PORT,
        default_root,
    )

    parser.add_argument(
        "--root", type=Path, help=f"folder of the app's projects (default: {default_root()})"
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--i-know-this-exposes-data",
        dest="expose",
        action="store_true",
        help="allow a --host other computers can reach (the app has no login)",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=DEFAULT_MAX_UPLOAD_MB,
        help=f"largest upload (all files of one form), MB (default {DEFAULT_MAX_UPLOAD_MB:g})",
    )


@_command(
    "serve",
    "the local web app: projects from a county and an Excel list, in a browser",
    _serve_arguments,
)
def _serve(args: argparse.Namespace) -> int:
    from .app.server import serve

    if not 0 < args.max_upload_mb <= 100_000:
        raise ConfigError("--max-upload-mb must be above 0 and at most 100000 / 上传上限无效")
    serve(
        args.root,
        host=args.host,
        port=args.port,
        max_upload_mb=args.max_upload_mb,
        expose=args.expose,
    )
    return 0


# --------------------------------------------------------------------------- the entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``geoplan`` command; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    # -q silences progress, info and the summary; warnings are always printed (on stderr,
    # by geoplan's own handler, whatever the root logger is configured to do)
    level = logging.INFO if args.verbose and not args.quiet else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("geoplan: %(levelname)s: %(message)s"))
    log = logging.getLogger("geoplan")
    old_level = log.level
    log.addHandler(handler)
    log.setLevel(level)
    from .results import set_invocation

    set_invocation(list(sys.argv[1:] if argv is None else argv))
    try:
        return args.handle(args)
    except GeoplanError as exc:
        if args.verbose >= 2:
            raise
        print(f"geoplan: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # at any moment: one line, nothing half-written
        text = str(exc) if isinstance(exc, Interrupted) else "interrupted / 已中断"
        print(f"geoplan: {text}", file=sys.stderr)
        return 130
    finally:
        set_invocation(None)
        log.removeHandler(handler)
        log.setLevel(old_level)


def _varied(sensitivity: dict) -> str:
    """``walk 60–80 m/min, speed factor 0.8–1.2``: what a sensitivity run varied."""
    parts = []
    walks = sensitivity.get("walk_speed_m_per_min") or []
    factors = sensitivity.get("speed_factor") or []
    if len(walks) > 1:
        parts.append(f"walk {min(walks):g}–{max(walks):g} m/min")
    if len(factors) > 1:
        parts.append(f"speed factor {min(factors):g}–{max(factors):g}")
    return ", ".join(parts) or "one setting"


def _print_summary(summary: dict, out: Path) -> None:
    print(f"{summary['area']}: {summary['population_total']:,.0f} residents")
    fac = summary["facilities"]
    placed = ", ".join(
        f"{fac[key]} {word}"
        for key, word in (("geocoded", "geocoded"), ("converted", "converted to WGS84"))
        if fac.get(key)
    )
    print(
        f"facilities: read {fac['read']}, used {fac['used']}, rejected {fac['rejected']}"
        + (f" ({placed}; see facilities_used.csv)" if placed else "")
    )
    sensitivity = summary.get("sensitivity") or {}
    bands = {band["id"]: band for band in sensitivity.get("rules", [])}
    varied = _varied(sensitivity)
    terrain = (summary.get("network") or {}).get("terrain")
    if terrain:
        print(
            f"  地形 / terrain: walking follows Tobler's hiking function on {terrain['dem']} "
            f"({terrain['grade']}; bridges, tunnels, elevators flat)"
        )
    for rule in summary["rules"]:
        target = rule["target_share"]
        status = ""
        if target is not None:
            status = " — met" if rule["met"] else f" — target {target:.0%} not met"
        print(
            f"  {rule['name_zh']} / {rule['name_en']}: "
            f"{rule['share_covered']:.1%} ({rule['population_covered']:,.0f}){status}"
        )
        if rule.get("points_unreachable"):
            print(
                f"    不可达 / unreachable: {rule['population_unreachable']:,.0f} residents "
                f"({rule['points_unreachable']:,} points)"
            )
        by_mode = rule.get("population_covered_by_mode")
        if by_mode:
            print(
                "    最快方式 / fastest mode: "
                + ", ".join(f"{mode} {people:,.0f}" for mode, people in by_mode.items())
            )
        band = bands.get(rule["id"])
        if band is not None:
            print(
                f"    敏感性 / sensitivity: {band['share_min']:.1%}–{band['share_max']:.1%} "
                f"({varied})"
            )
    modes = (summary.get("network") or {}).get("modes", {})
    for mode, snapping in modes.items():
        if snapping.get("demand_points_moved"):
            print(
                f"  {mode}: {snapping['population_moved']:,.0f} residents "
                f"({snapping['demand_points_moved']:,} points) whose nearest street is cut off "
                "were joined to the main network / 最近的街道与主路网不连通，已接入主路网"
            )
    if summary.get("facilities_hypothetical"):
        print("  (facilities are a hypothetical scenario / 设施为假设情景)")
    if summary.get("warnings"):
        print(f"{len(summary['warnings'])} warning(s) above, listed in summary.json / 警告见上")
    print(f"outputs in {out}")
