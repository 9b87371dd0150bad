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
