/* Pantau map: builds the Leaflet map from the page's data attributes (no inline script: the
   Content-Security-Policy forbids it) and loads the public cameras as GeoJSON into one marker-cluster layer.
   No script per marker: one fetch, one loop, one cluster layer (chunked so 2,000 points don't block). */
(function () {
  "use strict";
  var COLORS = { online: "#1a7f37", starting: "#b7791f", offline: "#6b7280", error: "#c53030", auth_failed: "#c53030",
                 unsupported: "#c53030", unknown: "#6b7280" };

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function popup(p, labels) {
    var status = labels.status[p.status] || p.status;
    return '<div class="cam-popup">' +
      '<strong>' + esc(p.name) + '</strong>' +
      '<span class="status status-' + esc(p.status) + '">' + esc(status) + '</span>' +
      '<img class="cam-snap" alt="" width="240" height="135" src="' + esc(p.snapshot_url) + '">' +
      '<a class="watch" href="' + esc(p.url) + '">' + esc(labels.watch) + '</a></div>';
  }

  function marker(f, labels) {
    var p = f.properties, c = f.geometry.coordinates;
    var m = L.circleMarker([c[1], c[0]], {
      radius: 9, weight: 2, color: "#fff", fillColor: COLORS[p.status] || COLORS.unknown, fillOpacity: 0.95
    });
    m.bindPopup(function () { return popup(p, labels); }, { maxWidth: 260, minWidth: 200 });
    m.bindTooltip(p.name);
    m.options.cameraId = p.id;
    m.options.status = p.status;
    return m;
  }

  function init(map, wrap) {
    var labels = JSON.parse(wrap.dataset.labels || "{}");
    var note = wrap.querySelector(".map-note");
    var cluster = L.markerClusterGroup({ chunkedLoading: true, maxClusterRadius: 50, showCoverageOnHover: false });
    map.addLayer(cluster);
    window.PantauMap.map = map;
    window.PantauMap.cluster = cluster;
    fetch(wrap.dataset.geojson, { headers: { Accept: "application/geo+json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        var markers = data.features.map(function (f) { return marker(f, labels); });
        cluster.addLayers(markers);
        window.PantauMap.markers = markers;
        wrap.dataset.loaded = String(markers.length);
      })
      .catch(function () {
        wrap.dataset.loaded = "error";
        if (note) { note.textContent = labels.error || ""; }
      });
  }

  function create(el) {
    var d = el.dataset, maxZoom = Number(d.maxZoom) || 19;
    var map = L.map(el, { center: [Number(d.lat), Number(d.lon)], zoom: Number(d.zoom), maxZoom: maxZoom });
    L.tileLayer(d.tiles, { maxZoom: maxZoom, attribution: d.attribution }).addTo(map);
    L.control.scale().addTo(map);
    return map;
  }

  window.PantauMap = { init: init, create: create, markers: [] };
  var wrap = document.getElementById("map-wrap"), el = document.getElementById("map");
  if (wrap && el) { init(create(el), wrap); }
})();
