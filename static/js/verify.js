/* Verification page: hash the chosen video file in the browser (Web Crypto) and send only its SHA-256;
   when the browser cannot (no crypto.subtle, or the file is too large to read at once) the file is uploaded. */
(function () {
  "use strict";
  var LIMIT = 1024 * 1024 * 1024;
  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function init() {
    var input = document.querySelector("[data-hash-target]");
    if (!input || !window.crypto || !window.crypto.subtle) { return; }
    var target = document.getElementById(input.dataset.hashTarget);
    var status = document.querySelector("[data-hash-status]");
    var form = input.form;
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file || file.size > LIMIT) { return; }
      form.dataset.hashing = "1";
      file.arrayBuffer().then(function (data) { return window.crypto.subtle.digest("SHA-256", data); })
        .then(function (digest) {
          target.value = hex(digest);
          input.disabled = true;  // only the hash is sent
          form.dataset.hashing = "";
          form.dataset.hashed = "1";
          if (status) { status.textContent = target.value; }
        })
        .catch(function () { form.dataset.hashing = ""; });
    });
    form.addEventListener("submit", function (event) {
      if (form.dataset.hashing === "1") { event.preventDefault(); }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
