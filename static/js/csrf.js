/* CSRF for signed-in pages: every htmx request and every fetch() to this site carries the page's token
   (meta csrf-token) in the X-CSRFToken header, which Flask-WTF checks on POST, PUT, PATCH and DELETE. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta) { return; }
  var token = meta.getAttribute("content");
  document.addEventListener("htmx:configRequest", function (e) { e.detail.headers["X-CSRFToken"] = token; });
  window.PantauCsrf = token;
})();
