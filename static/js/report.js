/* /lapor: the map pin and the phone's position, photo checks before sending, sending without leaving the
   page, and the offline queue (report-queue.js) when there is no signal. Without JavaScript the form
   still posts normally. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) { return; }
  var d = form.dataset, Q = window.PantauQueue;
  var lat = form.querySelector("[name=latitude]"), lon = form.querySelector("[name=longitude]");
  var coords = document.getElementById("report-coords"), gpsNote = document.getElementById("report-gps-note");
  var map = null, marker = null, timer = null;
  var MY = "pantau-my-reports";

  function remember(code) {
    try {
      var list = JSON.parse(localStorage.getItem(MY) || "[]");
      if (list.indexOf(code) < 0) { list.unshift(code); }
      localStorage.setItem(MY, JSON.stringify(list.slice(0, 20)));
    } catch (e) { /* private mode: the code is on the page anyway */ }
  }

  // -- where --
  var area = [];
  try { area = JSON.parse(document.getElementById("report-map").dataset.area || "[]"); } catch (e) { area = []; }

  function inside(la, lo) {  // ray casting over [lat, lon] corners, as the portal checks it
    if (area.length < 3) { return true; }
    var result = false;
    for (var i = 0, j = area.length - 1; i < area.length; j = i++) {
      var yi = area[i][0], xi = area[i][1], yj = area[j][0], xj = area[j][1];
      if ((yi > la) !== (yj > la) && lo < (xj - xi) * (la - yi) / (yj - yi) + xi) { result = !result; }
    }
    return result;
  }

  function setPoint(la, lo, pan) {
    lat.value = la.toFixed(6); lon.value = lo.toFixed(6);
    coords.textContent = lat.value + ", " + lon.value;
    var note = form.querySelector("[data-error-for='location']");
    if (!inside(la, lo)) { note.textContent = d.outside; note.hidden = false; } else if (note.textContent === d.outside) {
      note.hidden = true; note.textContent = "";
    }
    if (map && window.L) {
      if (marker) { marker.setLatLng([la, lo]); } else { marker = window.L.marker([la, lo]).addTo(map); }
      if (pan) { map.setView([la, lo], Math.max(map.getZoom(), 16)); }
    }
  }

  function startMap() {
    var el = document.getElementById("report-map");
    if (!el || !window.L) { return; }
    var m = el.dataset;
    map = window.L.map(el).setView([Number(m.lat), Number(m.lon)], Number(m.zoom) || 13);
    window.L.tileLayer(m.tiles, { maxZoom: 19, attribution: m.attribution }).addTo(map);
    try {
      window.L.polygon(JSON.parse(m.area), { color: "#0b3d6e", weight: 1, fillOpacity: 0.03, interactive: false })
        .addTo(map);
    } catch (e) { /* no outline */ }
    map.on("click", function (ev) { setPoint(ev.latlng.lat, ev.latlng.lng, false); });
    if (lat.value && lon.value) { setPoint(Number(lat.value), Number(lon.value), true); }
  }

  document.getElementById("report-gps").addEventListener("click", function () {
    if (!navigator.geolocation) { gpsNote.textContent = d.noGps; return; }
    gpsNote.textContent = "…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      gpsNote.textContent = "";
      setPoint(pos.coords.latitude, pos.coords.longitude, true);
    }, function () { gpsNote.textContent = d.noGps; }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  // -- errors on the page --
  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach(function (p) { p.hidden = true; p.textContent = ""; });
  }
  function showError(field, message) {
    var p = form.querySelector("[data-error-for='" + (field || "form") + "']") || form.querySelector("[data-error-for='form']");
    p.textContent = message; p.hidden = false;
    p.scrollIntoView({ block: "center" });
  }

  // -- the queue on the page --
  function li(html) { var el = document.createElement("li"); el.textContent = html; return el; }

  function render() {
    if (!Q) { return Promise.resolve(); }
    return Q.all().then(function (entries) {
      var box = document.getElementById("report-queue"), waiting = 0;
      var sentList = document.getElementById("report-queue-sent"), refusedList = document.getElementById("report-queue-refused");
      sentList.textContent = ""; refusedList.textContent = "";
      entries.forEach(function (e) {
        if (e.state === "queued") { waiting += 1; }
        if (e.state === "sent") {
          remember(e.code);
          var item = li(d.sentLabel + " "), strong = document.createElement("strong"), a = document.createElement("a");
          strong.textContent = e.code; strong.className = "track-code";
          a.href = e.url; a.textContent = d.followLabel;
          item.appendChild(strong); item.appendChild(document.createTextNode(" ")); item.appendChild(a);
          item.dataset.code = e.code;
          sentList.appendChild(item);
        }
        if (e.state === "refused") { refusedList.appendChild(li(d.refusedLabel + " " + e.message)); }
      });
      document.getElementById("report-queue-waiting").hidden = waiting === 0;
      document.getElementById("report-queue-count").textContent = waiting ? "(" + waiting + " " + d.queuedLabel + ")" : "";
      box.hidden = !entries.length;
      box.dataset.waiting = String(waiting);
      if (waiting && !timer) { timer = setInterval(flush, 10000); }
      if (!waiting && timer) { clearInterval(timer); timer = null; }
    });
  }

  function flush() {
    if (!Q) { return; }
    Q.flush("").then(render, render);
  }

  function queue(fields, files) {
    var entry = { id: fields.client_ref, fields: fields, files: files, queuedAt: Date.now(), attempts: 0, state: "queued" };
    return Q.add(entry).then(function () {
      form.reset(); lat.value = ""; lon.value = ""; coords.textContent = "";
      if (marker && map) { map.removeLayer(marker); marker = null; }
      if ("serviceWorker" in navigator) {
        navigator.serviceWorker.ready.then(function (reg) {
          if (reg.sync) { return reg.sync.register("pantau-report-queue"); }
        }).catch(function () { /* no Background Sync: the page sends it */ });
      }
      return render();
    });
  }

  form.addEventListener("submit", function (ev) {
    if (!window.fetch || !window.FormData || !Q) { return; }  // the plain form post
    ev.preventDefault();
    clearErrors();
    var input = document.getElementById("photos"), files = [], max = Number(d.maxBytes);
    for (var i = 0; i < input.files.length; i++) {
      if (input.files[i].size > max) { showError("photos", d.tooBig); return; }
      files.push({ name: input.files[i].name, type: input.files[i].type, blob: input.files[i] });
    }
    var body = new FormData(form), fields = {};
    form.querySelector("[name=client_ref]").value = form.querySelector("[name=client_ref]").value || Q.newId();
    body.set("client_ref", form.querySelector("[name=client_ref]").value);
    body.forEach(function (v, k) { if (typeof v === "string" && k !== "csrf_token") { fields[k] = v; } });
    var button = document.getElementById("report-send");
    button.disabled = true;
    var done = function () { button.disabled = false; };
    if (navigator.onLine === false) { queue(fields, files).then(done, done); return; }
    fetch(form.action || window.location.pathname, { method: "POST", body: body, credentials: "same-origin",
                                                      headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (r.ok && data.tracking_code) { remember(data.tracking_code); window.location.assign(data.url); return; }
          if (r.status >= 500) { return queue(fields, files); }
          done();
          showError(data.field, data.message || String(r.status));
        });
      }, function () { return queue(fields, files); })  // no signal: keep it and send it later
      .then(done, done);
  });

  window.addEventListener("online", flush);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(d.sw, { scope: d.scope }).catch(function () { /* still works without */ });
    navigator.serviceWorker.addEventListener("message", function (ev) {
      if (ev.data && ev.data.type === "pantau-queue") { render(); }
    });
  }
  if (window.L) { startMap(); } else { window.addEventListener("load", startMap); }
  render().then(flush);
})();
