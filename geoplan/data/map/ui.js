/* The map's interface, shared by every geoplan map (inlined by geoplan/rendering/maps.py).

   Three layouts, as classes on <html>:
   - desktop (no class): the legend floats bottom-left, the rule switcher and the layer list
     top-right, the hypothetical-scenario banner top-centre;
   - gp-compact (a narrow or low screen): the map fills the screen between a one-line banner and
     a bottom bar (rule switcher, "legend" and "layers" buttons); each button opens its panel
     as a bottom sheet;
   - gp-static (#...&static=1, and while printing): banner, map, and the legend at a print
     size beside the map (below it, in columns, when it does not fit there or on paper); no
     controls.
   The panels sit outside the Leaflet container, so they never take the map's clicks. */

var GP_TAP_RADIUS_PX = 22;
/* A finger needs a 44 px target: a tap this close to a facility marker opens it. */
var GP_PRINT_PX = [718, 1046];
/* The print area of an A4 page less 10 mm margins (@page in ui.css), at 96 px per inch. */

function gpEarlyLayout(query) {
    /* The layout classes before the body is drawn (no flash of the wrong layout). */
    var root = document.documentElement;
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    var isStatic = params.get("static") === "1";
    root.classList.toggle("gp-static", isStatic);
    root.classList.toggle("gp-compact", !isStatic && window.matchMedia(query).matches);
}

function gpInterface(map, control, layers, rules, bounds, options) {
    /* map: the L.Map; control: its L.Control.Layers; layers: gpLayers key -> layer;
       rules: rule ids in order; bounds: [[south, west], [north, east]] or null;
       options.compact: the media query of the compact layout. */
    var root = document.documentElement;
    var perRule = ["bands", "uncovered", "gaps", "units", "service"];
    var always = ["boundary", "facilities"];
    var narrow = window.matchMedia(options.compact);
    var ui = document.getElementById("gp-ui");
    var banner = document.getElementById("gp-banner");
    var select = document.getElementById("gp-rule");
    var panels = {legend: document.getElementById("gp-legend-panel"),
                  layers: document.getElementById("gp-layers")};
    var buttons = {legend: document.getElementById("gp-legend-button"),
                   layers: document.getElementById("gp-layers-button")};
    var open = {legend: true, layers: true};
    /* service areas start off (a display layer the reader asks for) and stay off in the
       static layout of #rule= (the report's maps) */
    var themes = {bands: true, uncovered: true, gaps: true, units: true, service: false};
    var current = rules.length ? rules[0] : null;
    var switching = false, touched = false, isStatic = false, compact = null, printing = false;

    window.gpMap = map;
    window.gpLayers = layers;
    document.getElementById("gp-layers-list").appendChild(control.getContainer());

    function split(key) {
        var cut = key.indexOf(":");
        return cut < 0 ? [key, ""] : [key.slice(0, cut), key.slice(cut + 1)];
    }
    function keyOf(layer) {
        var keys = Object.keys(layers);
        for (var i = 0; i < keys.length; i++) {
            if (layers[keys[i]] === layer) { return keys[i]; }
        }
        return "";
    }
    function setLayer(key, show) {
        if (show !== map.hasLayer(layers[key])) {
            if (show) { map.addLayer(layers[key]); } else { map.removeLayer(layers[key]); }
        }
    }

    /* ------------------------------------------------------------ one rule at a time */
    function mark() {
        /* rows of other rules (layer list, legend) get gp-other-rule; the layer control
           rebuilds its rows on every change, so this runs after each */
        var index = String(rules.indexOf(current));
        ui.querySelectorAll("[data-gp-rule]").forEach(function (el) {
            var row = el.closest("label") || el;
            row.classList.toggle("gp-other-rule", el.getAttribute("data-gp-rule") !== index);
        });
    }
    function showRule(rule) {
        /* that rule's layers, with the themes (bands, gaps ...) the reader has on */
        switching = true;
        Object.keys(layers).forEach(function (key) {
            var part = split(key);
            if (perRule.indexOf(part[0]) >= 0) {
                setLayer(key, part[1] === rule && themes[part[0]]);
            }
        });
        switching = false;
        current = rule;
        if (select) { select.value = String(rules.indexOf(rule)); }
        mark();
        map.fire("gpreorder");
    }
    map.on("overlayadd overlayremove", function (event) {
        mark();
        var part = split(keyOf(event.layer));
        if (!switching && perRule.indexOf(part[0]) >= 0 && part[1] === current) {
            themes[part[0]] = event.type === "overlayadd";
        }
    });
    if (select) {
        select.addEventListener("change", function () {
            showRule(rules[Number(select.value)]);
            var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
            params.set("rule", current);
            try {
                window.history.replaceState(null, "", "#" + params.toString());
            } catch (error) { /* a page that may not rewrite its URL keeps the old link */ }
        });
    }

    /* ------------------------------------------------------------ panels */
    function setOpen(which, state) {
        if (!panels[which]) { return; }
        open[which] = state;
        panels[which].classList.toggle("gp-open", state);
        panels[which].classList.toggle("gp-closed", !state);
        if (buttons[which]) { buttons[which].setAttribute("aria-expanded", String(state)); }
    }
    function closeAll() {
        Object.keys(panels).forEach(function (which) { setOpen(which, false); });
    }
    Object.keys(buttons).forEach(function (which) {
        if (!buttons[which]) { return; }
        buttons[which].addEventListener("click", function () {
            var state = !open[which];
            if (state && compact) { closeAll(); }  /* one sheet at a time */
            setOpen(which, state);
            if (!compact && !touched) { fit(); }
        });
    });
    ui.querySelectorAll(".gp-close").forEach(function (button) {
        button.addEventListener("click", function () {
            var which = button.getAttribute("data-gp-panel");
            setOpen(which, false);
            if (buttons[which]) { buttons[which].focus({preventScroll: true}); }
        });
    });
    document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && compact) { closeAll(); }
    });
    map.on("click", function () { if (compact) { closeAll(); } });
    if (window.matchMedia("(pointer: coarse)").matches) {
        /* Leaflet takes a tap on the 13 px marker only, and widening every marker's hit area
           would give a tap between two to the one drawn last: the closest facility marker within
           GP_TAP_RADIUS_PX of a tap on the map's canvas opens instead. */
        map.getContainer().addEventListener("click", function (event) {
            if (event.target.tagName !== "CANVAS") { return; }
            var tap = map.mouseEventToContainerPoint(event), best = null;
            var nearest = GP_TAP_RADIUS_PX;
            Object.keys(layers).forEach(function (key) {
                if (split(key)[0] !== "facilities" || !map.hasLayer(layers[key])) { return; }
                layers[key].eachLayer(function (marker) {
                    if (!marker.getPopup || !marker.getPopup()) { return; }
                    var d = tap.distanceTo(map.latLngToContainerPoint(marker.getLatLng()));
                    if (d <= nearest) { nearest = d; best = marker; }
                });
            });
            if (best !== null) {
                event.stopPropagation();
                best.openPopup();
            }
        }, true);
    }
    map.on("popupopen", function () { map.getContainer().classList.add("gp-popup-open"); });
    map.on("popupclose", function () { map.getContainer().classList.remove("gp-popup-open"); });

    /* ------------------------------------------------------------ layout and fitting */
    function clear(el, pad) {
        /* widen the padding on the side that costs the least map to get clear of el */
        if (!el || !el.getClientRects().length) { return; }
        var box = map.getContainer().getBoundingClientRect(), r = el.getBoundingClientRect();
        if (r.right <= box.left || r.left >= box.right || r.bottom <= box.top ||
            r.top >= box.bottom) { return; }
        var need = {left: r.right - box.left + 10, right: box.right - r.left + 10,
                    top: r.bottom - box.top + 10, bottom: box.bottom - r.top + 10};
        var opposite = {left: "right", right: "left", top: "bottom", bottom: "top"};
        var best = null, cost = Infinity;
        Object.keys(need).forEach(function (side) {
            var across = side === "left" || side === "right";
            var extent = across ? box.width : box.height;
            var next = Math.max(pad[side], need[side]);
            if (extent - next - pad[opposite[side]] < 0.4 * extent) { return; }
            var c = (next - pad[side]) * (across ? box.height : box.width);
            if (c < cost) { cost = c; best = side; }
        });
        if (best) { pad[best] = Math.max(pad[best], need[best]); }
    }
    function fit() {
        /* the whole area, in the part of the map that no panel covers */
        if (!bounds) { return; }
        var pad = {left: 12, top: 12, right: 12, bottom: 12};
        if (!compact && !isStatic) {
            [panels.legend, ui, banner].forEach(function (el) { clear(el, pad); });
        }
        map.fitBounds(bounds, {paddingTopLeft: [pad.left, pad.top],
                               paddingBottomRight: [pad.right, pad.bottom], animate: false});
    }
    function layout() {
        var wasCompact = compact;
        compact = !isStatic && narrow.matches;
        root.classList.toggle("gp-static", isStatic);
        root.classList.toggle("gp-compact", compact);
        if (compact !== wasCompact) {
            /* a phone opens on the map, a desktop with its panels */
            setOpen("legend", !compact);
            setOpen("layers", !compact);
        }
        /* static: the legend beside the map if it fits there whole, else below it */
        root.classList.remove("gp-legend-below");
        if (isStatic && panels.legend &&
            (printing || panels.legend.scrollHeight > panels.legend.clientHeight + 1)) {
            root.classList.add("gp-legend-below");
        }
        /* a hidden or torn-down frame (0 px): fitting it gives NaN; the next resize fits */
        var box = map.getContainer();
        if (!box.clientWidth || !box.clientHeight) { return; }
        map.invalidateSize({animate: false});
        if (!touched) { fit(); }
    }
    function applyHash() {
        /* #rule=<id>: that rule's layers (every theme) with the boundary and facilities;
           &static=1: the print layout */
        var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
        var rule = params.get("rule");
        if (rule !== null && rules.indexOf(rule) >= 0) {
            perRule.forEach(function (kind) { themes[kind] = kind !== "service"; });
            switching = true;
            Object.keys(layers).forEach(function (key) {
                if (always.indexOf(split(key)[0]) >= 0) { setLayer(key, true); }
            });
            switching = false;
            showRule(rule);
        }
        isStatic = params.get("static") === "1";
        layout();
    }
    ["mousedown", "wheel", "touchstart", "keydown"].forEach(function (type) {
        map.getContainer().addEventListener(type, function () { touched = true; });
    });
    window.addEventListener("resize", layout);
    if (narrow.addEventListener) { narrow.addEventListener("change", layout); }
    else { narrow.addListener(layout); }
    window.addEventListener("hashchange", applyHash);
    function pageSize(size) {
        /* lay the page out at the paper's size (null: the window's) before Chromium prints:
           Leaflet draws for the size its container has when the view is set */
        document.body.style.width = size ? size[0] + "px" : "";
        document.body.style.height = size ? size[1] + "px" : "";
        root.style.setProperty("--gp-vw", size ? size[0] / 100 + "px" : "1vw");
    }
    function printCopies(on) {
        /* Chromium prints a canvas as it was last painted on screen, without what was drawn
           on it during beforeprint: while printing, fresh copies of the map's canvases take
           their places (copies in a canvas, not an image, which would load asynchronously) */
        var container = map.getContainer();
        container.querySelectorAll("canvas.gp-print-copy").forEach(function (copy) {
            copy.remove();
        });
        container.querySelectorAll("canvas").forEach(function (canvas) {
            canvas.style.visibility = on ? "hidden" : "";
            if (!on) { return; }
            var copy = document.createElement("canvas");
            copy.className = "gp-print-copy";
            copy.width = canvas.width;
            copy.height = canvas.height;
            copy.style.cssText = canvas.style.cssText;
            copy.style.visibility = "visible";
            copy.getContext("2d").drawImage(canvas, 0, 0);
            canvas.parentNode.insertBefore(copy, canvas);
        });
    }
    window.addEventListener("beforeprint", function () {
        if (isStatic) { return; }
        printing = true;
        isStatic = true;
        pageSize(GP_PRINT_PX);
        layout();
        printCopies(true);
    });
    window.addEventListener("afterprint", function () {
        if (!printing) { return; }
        printing = false;
        isStatic = false;
        printCopies(false);
        pageSize(null);
        layout();
    });
    mark();
    applyHash();
}
