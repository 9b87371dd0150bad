/* The notification template admin: the SMS length, live, while the admin types (issue 15).
   An SMS is "subject. body" (notifications/delivery.py sms_text). GSM-7 (no diacritics) fits 160
   characters in one message, 153 per part when longer; one character outside GSM-7 (any
   Vietnamese accented letter) makes it UCS-2: 70, then 67 per part. Shown for the SMS channel. */
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var body = document.querySelector("textarea[data-sms-counter]");
  if (!body) { return; }
  var subject = document.getElementById("id_subject");
  var channel = document.getElementById("id_channel");
  var GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENDED = "^{}\\[~]|€";
  var output = document.createElement("p");
  output.className = "sms-counter";
  output.id = "sms-counter";
  output.setAttribute("aria-live", "polite");
  body.parentNode.insertBefore(output, body.nextSibling);
  body.setAttribute("aria-describedby", ((body.getAttribute("aria-describedby") || "") + " sms-counter").trim());

  function measure(text) {
    var units = 0;
    var gsm = true;
    for (var i = 0; i < text.length; i++) {
      var ch = text.charAt(i);
      if (GSM.indexOf(ch) >= 0) { units += 1; }
      else if (EXTENDED.indexOf(ch) >= 0) { units += 2; }
      else { gsm = false; break; }
    }
    if (gsm) {
      return { chars: units, parts: units <= 160 ? 1 : Math.ceil(units / 153), gsm: true };
    }
    var length = Array.from ? Array.from(text).length : text.length;
    return { chars: length, parts: length <= 70 ? 1 : Math.ceil(length / 67), gsm: false };
  }

  function update() {
    var isSms = !channel || channel.value === "sms";
    output.hidden = !isSms;
    if (!isSms) { return; }
    var text = (subject && subject.value ? subject.value + ". " : "") + body.value;
    var m = measure(text);
    var label = body.getAttribute(m.gsm ? "data-label-gsm" : "data-label-ucs");
    output.textContent = label.replace("%(chars)s", m.chars).replace("%(parts)s", m.parts)
      + " " + body.getAttribute("data-label-note");
    output.classList.toggle("is-long", m.parts > 1);
    output.setAttribute("data-parts", String(m.parts));
    output.setAttribute("data-encoding", m.gsm ? "gsm7" : "ucs2");
  }

  [body, subject].forEach(function (el) { if (el) { el.addEventListener("input", update); } });
  if (channel) { channel.addEventListener("change", update); }
  update();
});
