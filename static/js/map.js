/* Pantau map: loads the public cameras as GeoJSON data into one marker-cluster layer. */
(function () {
  "use strict";
  var COLORS = { online: "#1a7f37", starting: "#b7791f", offline: "#6b7280", error: "#c53030", unknown: "#6b7280" };

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function popup(p, labels) {
    var status = labels["status" + p.status.charAt(0).toUpperCase() + p.status.slice(1)] || p.status;
    return '<div class="cam-popup">' +
      '<strong>' + esc(p.name) + '</strong><br>' +
      '<span class="status status-' + esc(p.status) + '">' + esc(status) + '</span>' +
      '<img class="cam-snap" loading="lazy" alt="" width="240" height="135" src="' + esc(p.snapshot_url) + '">' +
      '<a class="watch" href="' + esc(p.url) + '">' + esc(labels.watch) + '</a></div>';
  }

  function init(map, wrap) {
    var d = wrap.dataset;
    var labels = {
      watch: d.labelWatch, statusOnline: d.labelStatusOnline, statusOffline: d.labelStatusOffline,
      statusStarting: d.labelStatusStarting, statusError: d.labelStatusError, statusUnknown: d.labelStatusUnknown
    };
    var cluster = L.markerClusterGroup({ chunkedLoading: true, maxClusterRadius: 50 });
    map.addLayer(cluster);
    fetch(d.geojson, { headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var markers = data.features.map(function (f) {
          var p = f.properties, c = f.geometry.coordinates;
          var m = L.circleMarker([c[1], c[0]], {
            radius: 9, weight: 2, color: "#fff", fillColor: COLORS[p.status] || COLORS.unknown, fillOpacity: 0.95
          });
          m.bindPopup(function () { return popup(p, labels); }, { maxWidth: 260 });
          m.bindTooltip(p.name);
          m.options.cameraId = p.id;
          return m;
        });
        cluster.addLayers(markers);
        wrap.dataset.loaded = String(markers.length);
        window.PantauMap.markers = markers;
      })
      .catch(function () { wrap.dataset.loaded = "error"; });
  }

  window.PantauMap = { init: init, markers: [] };
})();
