/* Police camera map: every camera (private and archived too) from the police GeoJSON, one marker each,
   a link to the camera's archive in the popup. Plain Leaflet, no inline script. */
(function () {
  "use strict";
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function init() {
    var el = document.getElementById("police-map");
    if (!el || !window.L) { return; }
    var labels = JSON.parse(el.dataset.labels || "{}");
    var map = L.map(el).setView([Number(el.dataset.lat), Number(el.dataset.lon)], Number(el.dataset.zoom || 13));
    L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution }).addTo(map);
    fetch(el.dataset.geojson, { headers: { Accept: "application/geo+json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        var bounds = [];
        data.features.forEach(function (f) {
          var p = f.properties, c = f.geometry.coordinates;
          var m = L.circleMarker([c[1], c[0]], { radius: 8, weight: 2, color: "#fff",
            fillColor: p.archived ? "#6b7280" : "#0b5cad", fillOpacity: 0.95 });
          m.bindPopup('<strong>' + esc(p.name) + '</strong><br>' + esc(p.district) +
            (p.archived ? ' · ' + esc(labels.archived) : '') +
            '<br><a href="' + esc(p.url) + '">' + esc(labels.archive) + '</a>');
          m.bindTooltip(p.name);
          m.addTo(map);
          bounds.push([c[1], c[0]]);
        });
        if (bounds.length > 1) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 15 }); }
        el.dataset.loaded = String(data.features.length);
      })
      .catch(function () { el.dataset.loaded = "error"; });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
