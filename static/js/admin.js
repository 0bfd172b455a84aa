/* The console: select-all for bulk actions, the upload progress of a CSV import, and the health page's
   refresh marked as background polling (it does not keep a session alive). No inline script anywhere. */
(function () {
  "use strict";
  document.addEventListener("change", function (e) {
    var box = e.target;
    if (!box.matches || !box.matches("[data-select-all]")) { return; }
    var table = box.closest("table");
    var rows = table ? table.querySelectorAll("tbody input[type=checkbox][name=ids]") : [];
    for (var i = 0; i < rows.length; i++) { rows[i].checked = box.checked; }
  });
  document.addEventListener("htmx:xhr:progress", function (e) {
    var bar = document.querySelector("[data-upload-progress]");
    if (bar && e.detail && e.detail.lengthComputable) {
      bar.value = Math.round((e.detail.loaded / e.detail.total) * 100);
    }
  });
  document.addEventListener("htmx:configRequest", function (e) {
    var elt = e.detail.elt;
    if (elt && elt.closest && elt.closest("[data-poll]")) { e.detail.headers["X-Pantau-Poll"] = "1"; }
  });
  // an htmx answer that is an error (422 from a switch without a reason, a refused import) is still shown
  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if (status === 422 || status === 400) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
      var problem = e.detail.requestConfig && e.detail.requestConfig.elt &&
        e.detail.requestConfig.elt.closest("#camera-table");
      if (problem) { e.detail.target = document.getElementById("switch-problem-slot") || e.detail.target; }
    }
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "camera-table") {
      var slot = document.getElementById("switch-problem-slot");
      if (slot) { slot.innerHTML = ""; }
    }
  });
})();
