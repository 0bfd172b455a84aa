/* The list page: short search URLs, and choosing up to 9 cameras (across searches and pages) for the multi-view. */
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (e) {  // /kamera?q=pantai, not ?q=pantai&district=&...
    var params = e.detail.parameters;
    ["q", "district", "category", "status"].forEach(function (key) {
      if (params[key] === "") { delete params[key]; }
    });
  });
  var form = document.getElementById("multiview-form");
  if (!form) { return; }
  var KEY = "pantau.multiview", max = Number(form.dataset.max || 9);
  var count = form.querySelector("[data-pick-count]");
  var clear = form.querySelector("[data-pick-clear]");
  var status = form.querySelector(".pick-status");

  function load() {
    try { return JSON.parse(window.sessionStorage.getItem(KEY) || "[]"); } catch (e) { return []; }
  }
  function save(ids) {
    try { window.sessionStorage.setItem(KEY, JSON.stringify(ids)); } catch (e) { /* private mode */ }
  }
  var chosen = load();

  function render() {
    var boxes = document.querySelectorAll("input[data-pick]");
    for (var i = 0; i < boxes.length; i++) { boxes[i].checked = chosen.indexOf(boxes[i].value) !== -1; }
    count.textContent = String(chosen.length);
    clear.hidden = chosen.length === 0;
  }

  document.addEventListener("change", function (e) {
    var box = e.target;
    if (!box.matches || !box.matches("input[data-pick]")) { return; }
    e.stopPropagation();  // not a change of the search
    var at = chosen.indexOf(box.value);
    if (box.checked && at === -1) {
      if (chosen.length >= max) { box.checked = false; status.textContent = form.dataset.tooMany; return; }
      chosen.push(box.value);
    } else if (!box.checked && at !== -1) {
      chosen.splice(at, 1);
    }
    save(chosen);
    render();
  });
  clear.addEventListener("click", function () { chosen = []; save(chosen); render(); });
  form.addEventListener("submit", function (e) {
    if (!chosen.length) { return; }  // no script state: let the ticked boxes submit themselves
    e.preventDefault();
    window.location.href = form.action + "?ids=" + chosen.join(",");
  });
  document.addEventListener("htmx:afterSwap", render);
  render();
})();
