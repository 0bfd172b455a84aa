/* /lacak: remember the code of a report just sent, and list the codes sent from this phone. */
(function () {
  "use strict";
  var MY = "pantau-my-reports", list = [];
  try { list = JSON.parse(localStorage.getItem(MY) || "[]"); } catch (e) { list = []; }
  var fresh = document.getElementById("fresh-code");
  if (fresh) {
    var code = fresh.textContent.trim();
    if (list.indexOf(code) < 0) { list.unshift(code); }
    try { localStorage.setItem(MY, JSON.stringify(list.slice(0, 20))); } catch (e) { /* private mode */ }
  }
  var box = document.getElementById("my-reports");
  if (!box || !list.length) { return; }
  var ul = box.querySelector("ul");
  list.forEach(function (c) {
    var a = document.createElement("a"), item = document.createElement("li");
    a.href = box.dataset.track + "/" + encodeURIComponent(c); a.textContent = c;
    item.appendChild(a); ul.appendChild(item);
  });
  box.hidden = false;
})();
