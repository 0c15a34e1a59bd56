"""Screenshot an HTML map with headless Chromium, offline.

Usage::

    python scripts/screenshot_map.py MAP.html OUT.png [--width 1400 --height 900]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from geoplan.rendering.browser import screenshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the map HTML file")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--budget-ms", type=int, default=5000, help="virtual time budget")
    parser.add_argument("--chromium", help="path of the Chromium/Chrome binary")
    parser.add_argument(
        "--allow-network", action="store_true", help="do not block the network with a dead proxy"
    )
    args = parser.parse_args(argv)
    try:
        path = screenshot(
            args.html,
            args.out,
            width=args.width,
            height=args.height,
            budget_ms=args.budget_ms,
            chromium=args.chromium,
            allow_network=args.allow_network,
        )
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
