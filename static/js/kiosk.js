/* The lobby kiosk (kiosk/views.py). Two jobs, no outside requests:
   1. The desk's USB QR scanner types the receipt's URL and Enter like a keyboard: whatever has the
      focus, keys typed outside a text field go to the scan field, whose form Enter submits.
   2. After data-idle-seconds without a touch or a key, go back to the first screen (a countdown
      is shown for the last 10 seconds; any touch keeps the page). */
(function () {
  "use strict";
  var body = document.body;
  var scan = document.getElementById("k-scan");
  var notice = document.getElementById("k-idle");
  var idle = parseInt(body.getAttribute("data-idle-seconds"), 10) || 60;
  var home = body.getAttribute("data-home") || "/kiosk/";
  var isHome = location.pathname === home;
  var last = Date.now();

  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA") && target !== scan;
  }

  document.addEventListener("keydown", function (event) {
    last = Date.now();
    if (!scan || typing(event.target) || event.target === scan) return;
    if (event.key === "Enter") {
      if (scan.value) { event.preventDefault(); scan.form.submit(); }
      return;
    }
    if (event.key.length === 1 && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      scan.focus();
      scan.value += event.key;
    }
  });

  ["pointerdown", "touchstart", "scroll", "input"].forEach(function (name) {
    document.addEventListener(name, function () { last = Date.now(); if (notice) notice.hidden = true; }, { passive: true, capture: true });
  });

  setInterval(function () {
    var left = idle - Math.floor((Date.now() - last) / 1000);
    if (left <= 0) {
      if (!isHome || (scan && scan.value)) { location.replace(home); }
      else { last = Date.now(); }
      return;
    }
    if (notice && !isHome && left <= 10) {
      notice.hidden = false;
      notice.textContent = (body.getAttribute("data-idle-text") || "").replace("%s", left);
    }
  }, 1000);

  // The citizen's dossier must not stay on the screen of the next person: no way back to it.
  if (document.getElementById("k-status") && history.replaceState) { history.replaceState(null, "", home); }
  if (scan && !typing(document.activeElement)) { scan.focus(); }
})();
