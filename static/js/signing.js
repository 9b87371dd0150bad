// The leader's approval waits while the signing service asks for a confirmation on the phone:
// say so, and keep the button from being tapped twice (issue 17; progressive enhancement).
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-signing-wait]");
  if (!form) return;
  var button = form.querySelector("button[type=submit]");
  if (button) {
    if (button.disabled) { event.preventDefault(); return; }
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  var note = document.createElement("p");
  note.className = "ws-hint";
  note.setAttribute("role", "status");
  note.id = "signing-wait";
  note.textContent = form.getAttribute("data-signing-wait");
  form.appendChild(note);
});
