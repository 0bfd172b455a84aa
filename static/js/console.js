/* The 112 console: timers that count in the browser (the queue is only re-sent when it changes), a note when new
   reports arrive, refused steps (400/404/409) swapped into the panel like any answer, and the report's map.
   No inline script: everything comes from data attributes. */
(function () {
  "use strict";
  var skew = 0;  // server clock minus this browser's clock, in ms
  var seen = null;  // ids of the queue's rows already shown

  function duration(ms) {
    var total = Math.floor(Math.abs(ms) / 1000), h = Math.floor(total / 3600), m = Math.floor(total % 3600 / 60),
      s = total % 60, pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function labels() {
    var q = document.getElementById("queue");
    try { return JSON.parse((q && q.dataset.labels) || "{}"); } catch (e) { return {}; }
  }

  function tick() {
    var now = Date.now() + skew, text = labels();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = duration(now - Number(el.dataset.since));
    });
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var left = Number(el.dataset.due) - now, kind = el.dataset.kind, over = left < 0;
      var pattern = text[(over ? "overdue_" : "") + kind];
      if (pattern) { el.textContent = pattern.replace("{t}", duration(left)); }
      el.classList.toggle("overdue", over);
      var row = el.closest("tr");
      if (row) { row.classList.toggle("overdue", over); }
    });
  }

  function syncClock() {
    var el = document.getElementById("queue") || document.getElementById("panel");
    if (el && el.dataset.now) { skew = Number(el.dataset.now) - Date.now(); }
  }

  function syncQueue() {
    syncClock();
    var q = document.getElementById("queue");
    if (!q) { return; }
    var ids = [], fresh = [];
    q.querySelectorAll("tr[data-incident]").forEach(function (row) {
      var id = row.dataset.incident;
      ids.push(id);
      if (seen && seen.indexOf(id) < 0) { row.classList.add("arrived"); fresh.push(id); }
    });
    var announce = document.getElementById("queue-announce");
    if (fresh.length && announce && labels().new) { announce.textContent = labels().new.replace("{n}", fresh.length); }
    seen = ids;
    tick();
  }

  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if ((status === 400 || status === 404 || status === 409) && e.detail.target &&
        (e.detail.target.id === "panel" || e.detail.target.id === "evidence")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "queue") { syncQueue(); } else { syncClock(); }
    tick();
  });
  document.addEventListener("htmx:load", function (e) {
    if (e.detail.elt && e.detail.elt.id === "queue") { syncQueue(); }
  });

  function initMap() {
    var el = document.getElementById("report-map");
    if (!el || !window.L) { return; }
    var here = [Number(el.dataset.lat), Number(el.dataset.lon)];
    var map = L.map(el).setView(here, Number(el.dataset.zoom || 16));
    L.tileLayer(el.dataset.tiles, { maxZoom: Number(el.dataset.maxZoom || 19), attribution: el.dataset.attribution })
      .addTo(map);
    L.circleMarker(here, { radius: 10, weight: 3, color: "#fff", fillColor: "#c53030", fillOpacity: 1 })
      .bindTooltip(el.dataset.label || "", { permanent: true, direction: "top" }).addTo(map);
    var bounds = [here], cameras = [];
    try { cameras = JSON.parse(el.dataset.cameras || "[]"); } catch (e) { cameras = []; }
    cameras.forEach(function (c) {
      var m = L.circleMarker([c.lat, c.lon], { radius: 7, weight: 2, color: "#fff",
        fillColor: c.public ? "#0b5cad" : "#6b21a8", fillOpacity: 0.95 });
      m.bindTooltip(c.name + " · " + c.metres + " m");
      m.on("click", function () {
        var fig = document.getElementById("camera-" + c.id);
        if (fig) { fig.scrollIntoView({ behavior: "smooth", block: "center" }); }
      });
      m.addTo(map);
      bounds.push([c.lat, c.lon]);
    });
    if (bounds.length > 1) { map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 }); }
    el.dataset.loaded = String(cameras.length);
  }

  function init() {
    syncQueue();
    initMap();
    tick();
    window.setInterval(tick, 1000);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
