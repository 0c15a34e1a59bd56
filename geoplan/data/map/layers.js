/* The coverage maps' layer helpers, inlined into every map. MIN and MAX between percent
   signs are the smallest and largest point radius in pixels (geoplan/rendering/maps.py). */
function gpUndelta(values) {
    /* integers delta-encoded by maps.py _deltas -> the integers */
    var out = new Array(values.length), v = 0;
    for (var i = 0; i < values.length; i++) { v += values[i]; out[i] = v; }
    return out;
}
function gpSplit(items, counts) {
    /* items in consecutive runs of counts[0], counts[1] ... items */
    var out = new Array(counts.length), at = 0;
    for (var i = 0; i < counts.length; i++) { out[i] = items.slice(at, at += counts[i]); }
    return out;
}
function gpDecodeLines(data) {
    /* maps.py _encode_lines (or a shape's rings): verts per part; lat, lon in 1e-6 degrees,
       delta-encoded over the whole sequence (maps.py _lat_lon) -> per part an array of
       L.LatLng */
    var lat = gpUndelta(data.lat), lon = gpUndelta(data.lon), points = new Array(lat.length);
    for (var v = 0; v < lat.length; v++) { points[v] = L.latLng(lat[v] / 1e6, lon[v] / 1e6); }
    return gpSplit(points, data.verts);
}
function gpBands(group, lines, codes, styles, order) {
    /* codes: one digit per line, an index into styles; higher digits are not drawn */
    var buckets = styles.map(function () { return []; });
    for (var i = 0; i < codes.length; i++) {
        var b = codes.charCodeAt(i) - 48;
        if (b < buckets.length) { buckets[b].push(lines[i]); }
    }
    order.forEach(function (b) {
        if (buckets[b].length) {
            L.polyline(buckets[b], Object.assign({pane: "gpBands", interactive: false},
                                                 styles[b])).addTo(group);
        }
    });
}
function gpFmtInt(x) { return Math.round(x).toLocaleString("en-US"); }
function gpFill(template, values) {
    /* a UI string with its {name} fields filled in; plain text, never parsed as HTML */
    return template.replace(/\{(\w+)\}/g, function (all, key) {
        return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : all;
    });
}
function gpMinutes(tenths, text, before) {
    /* minutes in tenths as text.minutes after `before`; -1: text.unreachable */
    return tenths < 0 ? text.unreachable :
        before + gpFill(text.minutes, {m: (tenths / 10).toFixed(1)});
}
function gpText(tag, className, text) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    el.textContent = text;
    return el;
}
function gpPopup(title, rows) {
    /* a popup as DOM nodes: bold title, a table of [label, value]; every text textContent */
    var box = gpText("div", "gp-pop", ""), table = document.createElement("table");
    rows.forEach(function (row) {
        var tr = table.insertRow();
        tr.appendChild(gpText("th", "", row[0]));
        tr.appendChild(gpText("td", "", row[1]));
    });
    box.appendChild(gpText("b", "", title));
    box.appendChild(table);
    return box;
}
function gpLines(lines) {
    /* lines of plain text as one node (a tooltip) */
    var box = document.createElement("div");
    lines.forEach(function (line, i) {
        if (i) { box.appendChild(document.createElement("br")); }
        box.appendChild(document.createTextNode(line));
    });
    return box;
}
var GP_CELL_PX = 16;
/* With many uncovered points, a zoom shows cells at least this many pixels wide. */
var GP_DETAIL_ROWS = 2000;
/* Up to this many uncovered points (or cells) per rule: drawn as they are at every zoom. */
var GP_POINT_CELL_M = 100;
/* Over single points, the cells of the levels are twice, four times ... this (metres); over
   cells, twice, four times ... theirs. */
function gpSumCells(fine, cell) {
    /* fine rows summed per cell of about `cell` metres (an equirectangular grid about the
       rows' first latitude): residents added up (tenths, exactly), position and minutes
       weighted by residents; the unreachable residents of a cell are a row of their own */
    var lat0 = fine.lat.length ? fine.lat[0] / 1e6 : 0;
    var perLat = 111195 / 1e6 / cell, perLon = perLat * Math.cos(lat0 * Math.PI / 180);
    var bins = new Map(), out = {lat: [], lon: [], pop: [], min: [], cell: cell, about: true};
    for (var i = 0; i < fine.pop.length; i++) {
        var far = fine.min[i] < 0, p = fine.pop[i];
        var key = Math.floor(fine.lat[i] * perLat) + ":" + Math.floor(fine.lon[i] * perLon) +
            (far ? ":u" : "");
        var bin = bins.get(key);
        if (!bin) { bin = {far: far, pop: 0, lat: 0, lon: 0, min: 0}; bins.set(key, bin); }
        bin.pop += p; bin.lat += p * fine.lat[i]; bin.lon += p * fine.lon[i];
        if (!far) { bin.min += p * fine.min[i]; }
    }
    bins.forEach(function (bin) {
        out.pop.push(bin.pop);
        out.lat.push(bin.lat / bin.pop);
        out.lon.push(bin.lon / bin.pop);
        out.min.push(bin.far ? -1 : bin.min / bin.pop);
    });
    return out;
}
function gpUncovered(map, group, data, options, text) {
    /* data (maps.py _uncovered_data): lat, lon (1e-6 degrees, delta-encoded), pop and min
       (tenths; min -1: no facility reachable). Circle area ∝ residents, radius
       k * sqrt(residents); unreachable residents drawn as rings, on top. Above GP_DETAIL_ROWS
       rows a zoom shows the rows summed per cell of at least GP_CELL_PX pixels (levels of
       twice, four times ... the cell), each level scaled to its most populous cell. */
    var fine = {lat: gpUndelta(data.lat), lon: gpUndelta(data.lon), pop: data.pop,
                min: data.min, cell: options.cell_m, about: false};
    var levels = [fine], drawn = [], shown = null;
    var detail = fine.pop.length > GP_DETAIL_ROWS;
    var base = options.cell_m || GP_POINT_CELL_M;
    if (detail) {
        for (var j = 1; j <= 16; j++) {
            levels.push(gpSumCells(fine, base * Math.pow(2, j)));
            if (levels[j].pop.length <= 50) { break; }
        }
    }
    group.gpLevels = levels;  /* for tests */
    function draw(level) {
        /* one tooltip per level, filled in for the circle hovered (Leaflet 1.9 cannot bind
           it to the rule's group: it looks for an element in each of its children) */
        var layer = L.featureGroup().bindTooltip(tooltip), k = options.k;
        if (detail) {
            var most = level.pop.reduce(function (a, b) { return Math.max(a, b); }, 0) / 10;
            k = most > 0 ? GP_CELL_PX / 2 / Math.sqrt(most) : 0;
        }
        [false, true].forEach(function (far) {
            for (var i = 0; i < level.pop.length; i++) {
                if ((level.min[i] < 0) !== far) { continue; }
                var radius = Math.max(%MIN%, Math.min(%MAX%, k * Math.sqrt(level.pop[i] / 10)));
                var marker = L.circleMarker([level.lat[i] / 1e6, level.lon[i] / 1e6],
                    Object.assign({radius: far ? Math.max(radius, 4) : radius},  /* a ring */
                                  far ? options.unreachableStyle : options.style));
                marker.gpRow = i;
                marker.gpLevel = level;
                layer.addLayer(marker);
            }
        });
        return layer;
    }
    function tooltip(marker) {
        var level = marker.gpLevel, i = marker.gpRow, lines;
        if (!level) { return ""; }
        lines = [text.uncovered_tip + gpFmtInt(level.pop[i] / 10),
                 gpMinutes(level.min[i], text, text.to_nearest),
                 options.threshold];
        if (level.cell) {
            lines.push(gpFill(level.about ? text.cell_sum_about : text.cell_sum,
                              {m: gpFmtInt(level.cell)}));
        }
        return gpLines(lines);
    }
    function pick() {
        if (levels.length === 1) { return 0; }
        var metresPerPx = 40075016.686 * Math.cos(map.getCenter().lat * Math.PI / 180) /
            Math.pow(2, map.getZoom() + 8);
        var j = Math.ceil(Math.log2(GP_CELL_PX * metresPerPx / base) - 1e-9);
        return Math.max(0, Math.min(levels.length - 1, j));
    }
    function update() {
        if (!map.hasLayer(group)) { return; }
        var j = pick();
        if (j === shown) { return; }
        if (shown !== null) { group.removeLayer(drawn[shown]); }
        drawn[j] = drawn[j] || draw(levels[j]);
        group.addLayer(drawn[j]);
        shown = j;
    }
    map.on("zoomend", update);
    group.on("add", function (event) {
        if (!event.propagatedFrom) { update(); }  /* the layer's, not a member's */
    });
    update();
}
function gpFacilities(group, rows, style) {
    /* rows: [lat, lon, tooltip html, popup html] (already escaped) */
    rows.forEach(function (r) {
        L.circleMarker([r[0], r[1]], style).bindTooltip(r[2]).bindPopup(r[3], {maxWidth: 360})
            .addTo(group);
    });
}
function gpShapes(shapes) {
    /* maps.py _encode_shapes -> per geometry its polygons, each a list of rings of LatLngs */
    return gpSplit(gpSplit(gpDecodeLines(shapes), shapes.rings), shapes.parts);
}
function gpGaps(map, group, data, options, text) {
    /* data (maps.py _gap_data, by rank): rank (delta-encoded), pop, min (tenths, -1:
       unreachable), facility and unit (indices into names and units, -1: none), labels
       ([lat, lon] of the top ranks), shapes. Tooltips and popups are built when opened, every
       name as text; the best rank is drawn on top. Drawn when first shown. */
    var ranks = gpUndelta(data.rank), shapes = null, labels = [];
    function people(i) { return data.pop[i] < 0 ? "—" : gpFmtInt(data.pop[i]); }
    group.gpData = {ranks: ranks, data: data};  /* for tests */
    group.bindTooltip(function (layer) {
        var i = layer.gpRow;
        return i === undefined ? "" : gpFill(text.gap_tooltip, {rank: ranks[i], pop: people(i)});
    }, {sticky: true});
    group.bindPopup(function (layer) {
        var i = layer.gpRow;
        if (i === undefined) { return ""; }
        var rows = [
            [text.rule, options.rule],
            [text.population, people(i)],
            [text.median_time, gpMinutes(data.min[i], text, "")],
            [text.nearest, data.facility[i] < 0 ? "—" : data.names[data.facility[i]]]
        ];
        if (data.unit[i] >= 0) { rows.push([text.unit, data.units[data.unit[i]]]); }
        return gpPopup(gpFill(text.gap_title, {rank: ranks[i]}), rows);
    }, {maxWidth: 360});
    function build() {
        /* the areas and labels, when the layer is first shown (another rule's are not
           built until it is chosen) */
        if (shapes !== null) { return; }
        shapes = gpShapes(data.shapes);
        for (var i = ranks.length - 1; i >= 0; i--) {
            if (!shapes[i].length) { continue; }
            var area = L.polygon(shapes[i], options.style);
            area.gpRow = i;
            group.addLayer(area);
        }
        data.labels.forEach(label);
    }
    function label(point, i) {
        var box = gpText("div", "gp-rank-label", "");
        box.appendChild(gpText("b", "", String(ranks[i])));
        box.appendChild(gpText("span", "gp-rank-sep", " · "));
        box.appendChild(gpText("span", "gp-rank-pop", gpFill(text.people, {pop: people(i)})));
        var marker = L.marker(point, {icon: L.divIcon({className: "gp-rank-icon", html: box,
                                                      iconSize: [0, 0], iconAnchor: [0, 0]}),
                                      keyboard: false, riseOnHover: true,
                                      zIndexOffset: 1000 - ranks[i]});
        marker.gpRow = i;
        labels.push(marker);
        group.addLayer(marker);
    }
    function declutter() {
        /* a label that overlaps a better-ranked one shows its rank only */
        var placed = [];
        labels.forEach(function (marker) {
            var el = marker.getElement(), box, r;
            if (!el || !el.firstChild) { return; }
            box = el.firstChild;
            box.classList.remove("gp-compact");
            r = box.getBoundingClientRect();
            if (placed.some(function (p) {
                return r.left < p.right && p.left < r.right && r.top < p.bottom &&
                    p.top < r.bottom;
            })) {
                box.classList.add("gp-compact");
                r = box.getBoundingClientRect();
            }
            placed.push(r);
        });
    }
    map.on("zoomend", declutter);
    group.on("add", function (event) {
        if (event.propagatedFrom) { return; }  /* a member's, not the layer's */
        build();
        declutter();
    });
    if (map.hasLayer(group)) { build(); }
}
function gpAreas(group, data, styles) {
    /* data (maps.py _area_data, the longest band first): shapes (gpShapes) and rows of
       [band index, tooltip html, popup html] (already escaped) */
    gpShapes(data.shapes).forEach(function (shape, i) {
        var r = data.rows[i];
        L.polygon(shape, styles[r[0]])
            .bindTooltip(r[1], {sticky: true}).bindPopup(r[2], {maxWidth: 360}).addTo(group);
    });
}
function gpUnits(group, rows, style) {
    /* rows: [geojson geometry, fill colour, popup html]. The fill is drawn below the streets
       (pane gpUnits, not interactive); an invisible copy in the overlay pane takes the
       clicks, since a canvas above would swallow them. */
    rows.forEach(function (r) {
        L.geoJSON(r[0], {pane: "gpUnits", interactive: false, style: function () {
            return Object.assign({}, style, {fillColor: r[1]});
        }}).addTo(group);
        L.geoJSON(r[0], {style: function () { return {stroke: false, fill: true,
                                                      fillOpacity: 0}; }})
            .bindPopup(r[2], {maxWidth: 360}).addTo(group);
    });
}
