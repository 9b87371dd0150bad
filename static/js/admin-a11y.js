// Accessible names for the admin's select2 widgets (Django's autocomplete_fields).
//
// select2 hides the real <select> and shows a combobox <span> instead (and, for a many-to-many
// field, a search <textarea> inside it). Neither is tied to the field's <label>: a screen reader
// announces a nameless combobox and a nameless text box (axe-core: aria-input-field-name, label).
// This names them after the label, as the hidden <select> was: the single-choice combobox by the
// label and then its current choice, the search box by the label; and it keeps the many-choice
// list a list (select2 puts its mouse-only "clear all" cross inside it). select2 builds its
// widgets when the page is ready and again for each inline form added, so a MutationObserver
// names every new one.
(function () {
  "use strict";

  function labelOf(select) {
    if (!select.id) {
      return null;
    }
    const label = document.querySelector('label[for="' + CSS.escape(select.id) + '"]');
    if (label && !label.id) {
      label.id = select.id + "-label";
    }
    return label;
  }

  function name(container) {
    const select = container.previousElementSibling;
    if (!select || select.tagName !== "SELECT") {
      return;
    }
    const label = labelOf(select);
    if (!label) {
      return;
    }
    const text = label.textContent.replace(/[:\s]+$/, "").trim();
    container.querySelectorAll(".select2-selection--single").forEach(function (combobox) {
      const rendered = combobox.querySelector(".select2-selection__rendered");
      const ids = [label.id].concat(rendered && rendered.id ? [rendered.id] : []);
      combobox.setAttribute("aria-labelledby", ids.join(" "));
      if (rendered) {
        // The current choice's text, read as part of the combobox's name: not a text box of its own.
        rendered.removeAttribute("role");
        rendered.removeAttribute("aria-readonly");
      }
    });
    container.querySelectorAll(".select2-selection--multiple").forEach(function (combobox) {
      combobox.setAttribute("aria-label", text);
      // select2 puts its "clear all" cross (a mouse-only <span>, no keyboard can reach it) inside
      // the list of choices, where a list may hold only items: hidden from screen readers, which
      // remove choices with the keyboard (Backspace) instead.
      combobox.querySelectorAll(".select2-selection__clear").forEach(function (cross) {
        cross.setAttribute("aria-hidden", "true");
      });
    });
    container.querySelectorAll(".select2-search__field").forEach(function (field) {
      field.setAttribute("aria-label", text);
    });
  }

  function start() {
    document.querySelectorAll("select + .select2-container").forEach(name);
    new MutationObserver(function (mutations) {
      for (const mutation of mutations) {
        for (const node of mutation.addedNodes) {
          if (node.nodeType !== Node.ELEMENT_NODE) {
            continue;
          }
          const container = node.closest(".select2-container") || node.querySelector(".select2-container");
          if (container) {
            name(container);
          }
        }
      }
    }).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
