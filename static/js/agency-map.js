/* The place of a dispatched report on a map (agency page): one marker, plain Leaflet, no inline script. */
(function () {
  "use strict";
  function init() {
    var el = document.getElementById("dispatch-map");
    if (!el || !window.L) { return; }
    var at = [Number(el.dataset.lat), Number(el.dataset.lon)];
    var map = L.map(el).setView(at, 16);
    L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution }).addTo(map);
    L.circleMarker(at, { radius: 10, weight: 3, color: "#fff", fillColor: "#c0392b", fillOpacity: 0.95 })
      .bindTooltip(el.dataset.label || "", { permanent: false }).addTo(map);
    el.dataset.loaded = "1";
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
