"""Benchmark: how a map opens on a phone (Chromium's mobile emulation, network blocked).

Run: ``.venv/bin/python scripts/bench_map_phone.py MAP.html [MAP.html ...] [--throttle 4]``

Opens each map in Debian's Chromium (Playwright) as a 390 × 844 phone (touch, mobile, 3 device
pixels per CSS px), optionally with the CPU slowed ``--throttle`` times (the DevTools
protocol's ``Emulation.setCPUThrottlingRate``, a rough stand-in for a phone's slower cores), and
prints the file size, the seconds until the map's interface is up (``window.gpMap``), the
JavaScript heap in use and the number of features the layers hold.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from geoplan.rendering.browser import find_chromium

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "has_touch": True,
    "is_mobile": True,
    "device_scale_factor": 3,
}
FEATURES_JS = """() => {
    /* the features drawn: layers of the groups, counted through nested groups (a GeoJSON
       layer, a zoom level of uncovered residents) */
    const count = (group) => group.getLayers().reduce(
        (n, layer) => n + (layer.getLayers ? count(layer) : 1), 0);
    return Object.values(window.gpLayers)
        .reduce((n, group) => n + (group.getLayers ? count(group) : 0), 0);
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("maps", nargs="+", type=Path, help="map HTML files")
    parser.add_argument("--throttle", type=float, default=1.0, help="CPU slowdown factor")
    parser.add_argument("--timeout-s", type=float, default=600.0)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    print(f"load average {os.getloadavg()[0]:.1f}; CPU throttle {args.throttle:g}×")
    print(f"{'map':40s}{'MB':>8s}{'load s':>9s}{'heap MB':>9s}{'features':>10s}")
    timeout_ms = args.timeout_s * 1000
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_chromium(), args=["--no-sandbox", "--disable-gpu"]
        )
        for path in args.maps:
            context = browser.new_context(**PHONE)
            page = context.new_page()
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(("file:", "data:", "blob:", "about:"))
                    else route.abort()
                ),
            )
            cdp = context.new_cdp_session(page)
            if args.throttle > 1:
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.throttle})
            cdp.send("Performance.enable")
            start = time.perf_counter()
            page.goto(path.resolve().as_uri(), wait_until="load", timeout=timeout_ms)
            page.wait_for_function("() => window.gpMap !== undefined", timeout=timeout_ms)
            seconds = time.perf_counter() - start
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            features = page.evaluate(FEATURES_JS)
            name = str(path)[-40:]
            print(
                f"{name:40s}{path.stat().st_size / 1e6:8.2f}{seconds:9.1f}"
                f"{metrics['JSHeapUsedSize'] / 1e6:9.0f}{features:10,d}"
            )
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
