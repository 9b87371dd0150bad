/* Procedure search-as-you-type on the reception form (progressive enhancement).
   Without JavaScript the input keeps its <datalist> and the "Show the checklist" button.
   With it, typing asks /can-bo/thu-tuc-goi-y/?q=… (diacritic-insensitive search) and shows
   an ARIA combobox list; choosing an entry loads that procedure's checklist. */
(function () {
  "use strict";
  var input = document.querySelector("[data-suggest-url]");
  if (!input || !window.fetch) { return; }
  var form = input.form;
  var listId = "procedure-suggestions";
  var list = document.createElement("ul");
  list.id = listId;
  list.className = "ws-suggest";
  list.setAttribute("role", "listbox");
  list.hidden = true;
  input.parentNode.appendChild(list);
  input.removeAttribute("list");
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", listId);
  input.setAttribute("aria-expanded", "false");

  var timer = null;
  var active = -1;
  var results = [];
  var lastQuery = null;

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    var items = list.children;
    for (var i = 0; i < items.length; i++) {
      items[i].setAttribute("aria-selected", i === index ? "true" : "false");
    }
    active = index;
    if (index >= 0 && items[index]) {
      input.setAttribute("aria-activedescendant", items[index].id);
      items[index].scrollIntoView({ block: "nearest" });
    }
  }

  function choose(index) {
    var item = results[index];
    if (!item) { return; }
    input.value = item.code;
    close();
    form.submit();
  }

  function render() {
    list.textContent = "";
    results.forEach(function (item, i) {
      var li = document.createElement("li");
      li.id = listId + "-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.textContent = item.name;
      var code = document.createElement("span");
      code.className = "ws-suggest__code";
      code.textContent = item.code;
      li.appendChild(code);
      li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
      list.appendChild(li);
    });
    list.hidden = results.length === 0;
    input.setAttribute("aria-expanded", results.length ? "true" : "false");
    active = -1;
  }

  function search() {
    var query = input.value.trim();
    if (query === lastQuery) { return; }
    lastQuery = query;
    if (query.length < 2) { results = []; render(); return; }
    var url = input.getAttribute("data-suggest-url") + "?q=" + encodeURIComponent(query);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) {
        if (input.value.trim() !== query) { return; }
        results = data.results || [];
        render();
      })
      .catch(function () { /* the no-JS path (submit the form) still works */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 200);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" && results.length) {
      event.preventDefault();
      if (list.hidden) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
      highlight(Math.min(active + 1, results.length - 1));
    } else if (event.key === "ArrowUp" && results.length) {
      event.preventDefault();
      highlight(Math.max(active - 1, 0));
    } else if (event.key === "Enter" && !list.hidden && active >= 0) {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", function () { setTimeout(close, 150); });
})();

/* The reception form's "result due if accepted now": rendered by the server, then refreshed
   every minute from GET /api/v1/procedures/<code>/due-date/ while the officer fills the form
   (the appointment moves with the clock: half-days, the same-day cut-off, office hours). */
(function () {
  "use strict";
  var output = document.getElementById("due-preview");
  if (!output || !window.fetch) { return; }
  var url = output.getAttribute("data-due-url");

  function show(iso) {
    // The API answers in the project's time zone ("2026-12-10T10:30:00+07:00"): print its local
    // parts as dd/mm/yyyy HH:MM whatever the browser's locale.
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso || "");
    if (!m) { return; }
    var time = document.createElement("time");
    time.setAttribute("datetime", iso);
    time.textContent = m[3] + "/" + m[2] + "/" + m[1] + " " + m[4] + ":" + m[5];
    output.textContent = "";
    output.appendChild(time);
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { show(data.due_at); } })
      .catch(function () { /* keep the value shown */ });
  }

  refresh();
  setInterval(refresh, 60000);
})();
