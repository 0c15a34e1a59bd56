// geoplan serve: the preview map of a project's inputs (Leaflet, no basemap, no network).
// Every text from the data is set with textContent: a name is never parsed as HTML.
(function () {
  "use strict";
  var box = document.getElementById("preview-map");
  if (!box || typeof L === "undefined") return;
  var labels = JSON.parse(box.dataset.labels);
  var lang = box.dataset.lang;
  var map = L.map(box, { preferCanvas: true, attributionControl: false });
  window.gpPreview = map;
  var colours = { medical: "#1b7837", ems: "#c51b7d", public_health: "#5e3c99", fitness: "#2166ac" };

  function tip(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  fetch(box.dataset.src, { credentials: "same-origin", cache: "no-store" })
    .then(function (response) { return response.json(); })
    .then(function (data) {
      var overlays = {};
      overlays[labels.population] = L.geoJSON(data.population, {
        pointToLayer: function (f, latlng) {
          var r = Math.max(2, Math.min(12, Math.sqrt(f.properties.population) / 4));
          return L.circleMarker(latlng, { radius: r, stroke: false, fillColor: "#f4a261", fillOpacity: 0.55 });
        }
      });
      overlays[labels.network] = L.geoJSON(data.network, { style: { color: "#777", weight: 1, opacity: 0.8 } });
      overlays[labels.boundary] = L.geoJSON(data.boundary, { style: { color: "#222", weight: 2, fill: false, dashArray: "6 4" } });
      overlays[labels.facilities] = L.geoJSON(data.facilities, {
        pointToLayer: function (f, latlng) {
          var m = L.circleMarker(latlng, {
            radius: 6, color: "#fff", weight: 1.5, fillColor: colours[f.properties.group] || "#444", fillOpacity: 1
          });
          var p = f.properties;
          m.bindTooltip(tip(p.name + " · " + (lang === "en" ? p.category_en : p.category_zh)));
          return m;
        }
      });
      var bounds = null;
      Object.keys(overlays).forEach(function (name) {
        var layer = overlays[name];
        layer.addTo(map);
        var b = layer.getBounds();
        if (b.isValid()) bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
      });
      L.control.layers(null, overlays, { collapsed: false }).addTo(map);
      L.control.scale({ imperial: false }).addTo(map);
      if (bounds) map.fitBounds(bounds, { padding: [12, 12] }); else map.setView([35, 105], 4);
      var list = document.getElementById("preview-errors");
      Object.keys(data.errors || {}).forEach(function (key) {
        var li = document.createElement("li");
        li.textContent = labels.failed + " " + (labels[key] || key) + ": " + data.errors[key];
        list.appendChild(li);
      });
      var counts = {};  // features drawn per layer (for tests and the curious)
      ["boundary", "network", "population", "facilities"].forEach(function (key) {
        counts[key] = (data[key].features || []).length;
      });
      box.dataset.counts = JSON.stringify(counts);
      box.dataset.ready = "1";
    })
    .catch(function (err) {
      var li = document.createElement("li");
      li.textContent = labels.failed + " " + err;
      document.getElementById("preview-errors").appendChild(li);
      box.dataset.ready = "failed";
    });
})();
