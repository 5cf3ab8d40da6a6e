// Portico's page script: progressive enhancement only; every page works
// without it. Loaded as a static file under the per-request CSP nonce.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // "Show" buttons next to password fields: hidden in the markup, shown
  // only when this script runs.
  document.querySelectorAll("button[data-reveal-for]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-reveal-for"));
    if (!input) {
      return;
    }
    button.hidden = false;
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? "Hide" : "Show";
      button.setAttribute("aria-pressed", show ? "true" : "false");
      input.focus();
    });
  });
  document.documentElement.setAttribute("data-js", "ready");
});
