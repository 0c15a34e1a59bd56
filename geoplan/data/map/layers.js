/* The coverage maps' layer helpers, inlined into every map. MIN and MAX between percent
   signs are the smallest and largest point radius in pixels (geoplan/rendering/maps.py). */
function gpDecodeLines(parts) {
    /* [lat0, lon0, dlat1, dlon1, ...] in 1e-6 degrees -> arrays of L.LatLng */
    return parts.map(function (a) {
        var out = [], lat = 0, lon = 0;
        for (var i = 0; i < a.length; i += 2) {
            lat += a[i]; lon += a[i + 1];
            out.push(L.latLng(lat / 1e6, lon / 1e6));
        }
        return out;
    });
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
function gpUncovered(group, rows, k, style, unreachableStyle, text) {
    /* rows: [lat, lon, population, minutes|null]; radius = k * sqrt(population); residents
       with no reachable facility (minutes null) drawn as rings, on top */
    rows.slice().sort(function (a, b) { return (a[3] === null) - (b[3] === null); })
        .forEach(function (r) {
        var unreachable = r[3] === null;
        var radius = Math.max(%MIN%, Math.min(%MAX%, k * Math.sqrt(r[2])));
        var tip = text.pop + gpFmtInt(r[2]) + "<br>" +
            (unreachable ? text.unreachable : text.time + r[3].toFixed(1) + text.unit) +
            text.threshold;
        L.circleMarker([r[0], r[1]], Object.assign(
            {radius: unreachable ? Math.max(radius, 4) : radius},  /* a ring stays visible */
            unreachable ? unreachableStyle : style))
            .bindTooltip(tip).addTo(group);
    });
}
function gpFacilities(group, rows, style) {
    /* rows: [lat, lon, tooltip html, popup html] (already escaped) */
    rows.forEach(function (r) {
        L.circleMarker([r[0], r[1]], style).bindTooltip(r[2]).bindPopup(r[3], {maxWidth: 360})
            .addTo(group);
    });
}
function gpGaps(map, group, rows, style) {
    /* rows (by rank): [geojson geometry, [lat, lon] label point or null, rank, tooltip, popup,
       label html]; the best rank is drawn on top */
    var labels = [];
    rows.slice().reverse().forEach(function (r) {
        L.geoJSON(r[0], {style: function () { return style; }})
            .bindTooltip(r[3], {sticky: true}).bindPopup(r[4], {maxWidth: 360}).addTo(group);
        if (r[1] === null) { return; }
        var icon = L.divIcon({className: "gp-rank-icon", html: r[5],
                              iconSize: [0, 0], iconAnchor: [0, 0]});
        labels.unshift(L.marker(r[1], {icon: icon, keyboard: false, riseOnHover: true,
                                       zIndexOffset: 1000 - r[2]}).bindTooltip(r[3])
            .bindPopup(r[4], {maxWidth: 360}).addTo(group));
    });
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
    group.on("add", declutter);
}
function gpAreas(group, rows, styles) {
    /* rows (longest band first): [polygons, band index, tooltip, popup]; polygons: a list
       of polygons, each a list of rings delta-encoded as gpDecodeLines reads them */
    rows.forEach(function (r) {
        var shape = r[0].map(function (rings) { return gpDecodeLines(rings); });
        L.polygon(shape, styles[r[1]])
            .bindTooltip(r[2], {sticky: true}).bindPopup(r[3], {maxWidth: 360}).addTo(group);
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
