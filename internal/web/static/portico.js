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
  // Recovery codes: copy, download, print. The codes are the list's
  // items, one per line.
  function codesOf(id) {
    var list = document.getElementById(id);
    if (!list) {
      return "";
    }
    return Array.prototype.map.call(list.querySelectorAll("li"), function (li) {
      return li.textContent.trim();
    }).join("\n") + "\n";
  }
  var status = document.querySelector("[data-copy-status]");
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(codesOf(button.getAttribute("data-copy"))).then(function () {
        if (status) {
          status.textContent = "Copied.";
        }
      }, function () {
        if (status) {
          status.textContent = "Copying did not work here: select the codes and copy them.";
        }
      });
    });
  });
  document.querySelectorAll("button[data-download]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var blob = new Blob(["Portico recovery codes: each works once.\n\n" + codesOf(button.getAttribute("data-download"))], {type: "text/plain"});
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = button.getAttribute("data-filename") || "codes.txt";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
    });
  });
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
  // A form that works once (a single-use download): after it is sent,
  // its button goes and the form says what happened.
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      setTimeout(function () {
        var note = document.createElement("p");
        note.className = "hint";
        note.setAttribute("role", "status");
        note.textContent = form.getAttribute("data-once");
        form.replaceWith(note);
      }, 0);
    });
  });
  document.documentElement.setAttribute("data-js", "ready");
});
