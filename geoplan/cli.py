"""Command line: parse, call the library, exit 0 (ok), 1 (user error) or 2 (usage)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ._paths import DEMO_PROJECT
from .errors import ConfigError, GeoplanError, Interrupted

__all__ = [
    "main",
]


def _parser() -> argparse.ArgumentParser:
    from .analysis.rules import MODES
    from .rendering.maps import LANGS

    parser = argparse.ArgumentParser(
        prog="geoplan", description="Health- and fitness-facility coverage planning for China."
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: tracebacks)"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress, info or summary lines (warnings are still printed)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a project file (TOML) and write its outputs")
    run.add_argument("project", type=Path, help="project file, e.g. data/demo/tuanchengshan.toml")
    _add_out(run)

    demo = sub.add_parser("demo", help="run the demo project (团城山街道, 黄石)")
    _add_out(demo)
    for command in (run, demo):
        _add_map_options(command)

    tt = sub.add_parser("traveltimes", help="nearest facility and travel time per demand point")
    tt.add_argument("--network", type=Path, required=True, help="OSM XML/PBF, GraphML, lines")
    tt.add_argument("--facilities", type=Path, required=True, help="facility records")
    tt.add_argument("--demand", type=Path, required=True, help="demand points, lines or raster")
    tt.add_argument("--mode", choices=MODES, default="walk")
    tt.add_argument(
        "--walk-speed", type=float, help="walking speed in m/min (default: as in project files)"
    )
    tt.add_argument(
        "--crs", help="coordinate system of the facilities: wgs84, cgcs2000, gcj02, bd09, EPSG:…"
    )
    _add_keep_duplicates(tt)
    tt.add_argument("--out", type=Path, required=True, help="output table: .csv, .xlsx or .parquet")
    tt.add_argument("--overwrite", action="store_true", help="replace an existing output")

    batch = sub.add_parser("batch", help="run many areas on Dask and merge their summaries")
    batch.add_argument(
        "config", type=Path, help="folder of project TOML files, or a batch TOML file"
    )
    batch.add_argument(
        "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786 (default: local)"
    )
    batch.add_argument("--workers", type=int, help="local workers (default: min(CPUs, areas))")
    _add_out(batch)
    cf = sub.add_parser(
        "check-facilities", help="check a facility file: rejects and QA findings (zh/en)"
    )
    cf.add_argument("file", type=Path, help="facility records (CSV, XLSX, GeoJSON, GPKG …)")
    cf.add_argument("--boundary", type=Path, help="study-area polygons (any layer, or GraphML)")
    cf.add_argument("--network", type=Path, help="street network (OSM, GraphML, road lines)")
    cf.add_argument("--crs", help="coordinate system: wgs84, cgcs2000, gcj02, bd09, EPSG:…")
    cf.add_argument("--sheet", help="worksheet of a workbook (default: first non-empty)")
    _add_keep_duplicates(cf)
    cf.add_argument(
        "--out", type=Path, help="folder for qa.csv and rejects.csv (default: <file stem>_qa)"
    )
    cf.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    check = sub.add_parser("check", help="check a project against a plan's rule pack")
    check.add_argument("project", type=Path, help="project file, e.g. data/demo/tuanchengshan.toml")
    check.add_argument("--plan", required=True, help="rule pack id (e.g. leshan_shizhong) or file")
    check.add_argument(
        "--unit-level",
        choices=("village", "township", "county", "city"),
        help="level of the project's units (default: [units] level in the project file)",
    )
    _add_out(check)
    init = sub.add_parser(
        "init", help="start a project: for one of the plans' places, or any area (--boundary)"
    )
    init.add_argument("place", nargs="?", help="name or adcode, e.g. 平罗县, 乐山市市中区, 445102")
    init.add_argument(
        "--boundary", type=Path, help="instead of a place: the area's polygon file (any layer)"
    )
    init.add_argument("--name", help="with --boundary: the area's name (default: from the file)")
    init.add_argument("--out", type=Path, required=True, help="project folder to create")
    init.add_argument("--overwrite", action="store_true", help="replace existing files")
    sc = sub.add_parser(
        "scenario", help="what-if: add, close or move facilities; coverage before and after"
    )
    sc.add_argument(
        "project", type=Path, help="project file, or a scenario file with a [scenario] table"
    )
    sc.add_argument("--add", type=Path, help="facility file with facilities to add")
    sc.add_argument(
        "--close", action="append", default=[], metavar="ID,ID", help="facility ids to close"
    )
    sc.add_argument(
        "--move",
        action="append",
        default=[],
        metavar="ID=LON,LAT",
        help="move a facility to a position (WGS84 unless --crs; repeatable)",
    )
    sc.add_argument(
        "--crs",
        help="coordinate system of --add and --move: wgs84 (default), cgcs2000, gcj02, bd09, "
        "EPSG:…",
    )
    _add_out(sc)
    st = sub.add_parser(
        "sites", help="rank candidate sites and choose new ones for a rule (or 片区: --catchments)"
    )
    st.add_argument("project", type=Path, help="project file, e.g. data/demo/tuanchengshan.toml")
    st.add_argument("--rule", required=True, help="rule id (its facilities, mode and threshold)")
    source = st.add_mutually_exclusive_group(required=True)
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
        help="instead of siting: K sub-centres among the rule's facilities and their 片区",
    )
    st.add_argument("--candidates-crs", help="coordinate system of --candidates (default wgs84)")
    st.add_argument(
        "--exclude",
        type=Path,
        action="append",
        default=[],
        help="polygons where no site may go (repeatable)",
    )
    st.add_argument("--model", choices=("mclp", "lscp", "pmedian"), default="mclp")
    st.add_argument("--p", type=int, help="number of new sites (mclp, pmedian)")
    st.add_argument(
        "--target-share",
        type=float,
        default=1.0,
        help="lscp: share of the coverable residents to cover (default 1)",
    )
    st.add_argument("--time-limit", type=float, default=60.0, help="solver time limit, seconds")
    st.add_argument("--tier", help="--catchments: only facilities of this tier (e.g. township)")
    _add_out(st)
    rp = sub.add_parser(
        "report", help="an HTML (and PDF) report of a result folder; a gallery for a batch"
    )
    rp.add_argument("result_dir", type=Path, help="output folder of run, demo, check, scenario …")
    rp.add_argument(
        "--out",
        type=Path,
        help="report file: .html (PDF beside it) or .pdf (HTML beside it); default "
        "RESULT_DIR/report.html, gallery.html for a batch",
    )
    rp.add_argument("--lang", choices=LANGS, default="zh", help="report language")
    rp.add_argument(
        "--pdf",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print a PDF beside the report (default: when Chromium is found)",
    )
    rp.add_argument("--overwrite", action="store_true", help="replace existing reports")
    for command in sub.choices.values():  # -v/-q also after the command name
        command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS)
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS)
    return parser


def _add_map_options(parser: argparse.ArgumentParser) -> None:
    from .rendering.maps import BASEMAPS, LANGS

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
        return _dispatch(args)
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


def _dispatch(args: argparse.Namespace) -> int:
    from .workflows import project

    if args.command in ("run", "demo"):
        path = args.project if args.command == "run" else DEMO_PROJECT
        result = project.run_project(
            path,
            args.out,
            overwrite=args.overwrite,
            progress=not args.quiet,
            lang=args.lang,
            basemap=args.basemap,
            command=args.command,
        )
        if not args.quiet:
            _print_summary(result.summary, args.out)
        return 0
    if args.command == "traveltimes":
        from .readers.network import DEFAULT_WALK_SPEED_M_PER_MIN

        table = project.write_travel_times(
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
        )
        if not args.quiet:
            print(f"wrote {len(table)} rows to {args.out}")
        return 0
    if args.command == "batch":
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
    if args.command == "check-facilities":
        from .analysis.qa import check_facilities_file

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
    if args.command == "check":
        from .workflows.plan_check import describe, run_check

        result = run_check(
            args.project,
            args.plan,
            args.out,
            overwrite=args.overwrite,
            unit_level=args.unit_level,
        )
        if not args.quiet:
            print("\n".join(describe(result)))
            print(f"outputs in {args.out} (checks.csv, indicators.csv, summary.json …)")
        return 0
    if args.command == "init":
        from .workflows.init import init_from_boundary, init_project

        if (args.place is None) == (args.boundary is None):
            raise ConfigError("give a place (e.g. 平罗县) or --boundary FILE, not both")
        if args.boundary is not None:
            paths = init_from_boundary(
                args.boundary, args.out, name=args.name, overwrite=args.overwrite
            )
        else:
            if args.name is not None:
                raise ConfigError("--name goes with --boundary (a place has its own name)")
            paths = init_project(args.place, args.out, overwrite=args.overwrite)
        if not args.quiet:
            print(f"wrote {', '.join(paths)} to {args.out}")
            print(f"next: fill in the TODO inputs of {paths['project.toml']}, check its rules")
        return 0
    if args.command == "scenario":
        from .workflows.scenario import scenario_from_cli

        result = scenario_from_cli(
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
    if args.command == "sites":
        from .workflows import sites

        lines = sites.sites_from_cli(
            args.project,
            rule=args.rule,
            candidates=args.candidates,
            candidates_crs=args.candidates_crs,
            grid_m=args.grid,
            gap_nodes=args.gap_nodes,
            catchments_k=args.catchments,
            tier=args.tier,
            exclude=args.exclude,
            model=args.model,
            p=args.p,
            target_share=args.target_share,
            time_limit_s=args.time_limit,
            out=args.out,
            overwrite=args.overwrite,
        )
        if not args.quiet:
            print("\n".join(lines))
        return 0
    if args.command == "report":
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
    raise AssertionError(args.command)  # argparse guarantees a known command


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
