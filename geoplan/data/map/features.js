/* The feature maps' layer builder (scenario, sites, 片区; inlined into each map). */
function gpFeatureLayer(group, kind, rows, style, size) {
    /* rows: [geometry | [lat, lon], colour|null, radius|null, tooltip html|null, icon html] */
    rows.forEach(function (r) {
        var s = Object.assign({}, style), layer;
        if (r[1] !== null) {
            if (kind !== "points") { s.color = r[1]; }
            s.fillColor = r[1];
        }
        if (kind === "points") {
            if (r[2] !== null) { s.radius = r[2]; }
            layer = L.circleMarker(r[0], s);
        } else if (kind === "markers") {
            layer = L.marker(r[0], {icon: L.divIcon({className: "gp-marker", html: r[4],
                iconSize: [size, size], iconAnchor: [size / 2, size / 2]}), keyboard: false});
        } else {
            layer = L.geoJSON(r[0], {style: function () { return s; }});
        }
        if (r[3] !== null) { layer.bindTooltip(r[3], {sticky: kind !== "points"}); }
        layer.addTo(group);
    });
}
