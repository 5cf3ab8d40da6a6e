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

// The security dashboard's live feed: server-sent events from the URL in
// data-feed, newest first, at most 200 kept. Without this script the page
// reloads itself (a noscript refresh).
document.addEventListener("DOMContentLoaded", function () {
  var list = document.querySelector("ol[data-feed]");
  if (!list || !window.EventSource) {
    return;
  }
  var status = document.querySelector("[data-feed-status]");
  var source = new EventSource(list.getAttribute("data-feed"));
  var seen = {};
  list.querySelectorAll("li[data-id]").forEach(function (li) {
    seen[li.getAttribute("data-id")] = true;
  });
  function item(e) {
    var li = document.createElement("li");
    li.className = "feed-item feed-" + (e.kind || "event");
    li.setAttribute("data-id", e.id || "");
    var t = document.createElement("time");
    var at = new Date(e.at);
    t.dateTime = at.toISOString();
    t.textContent = at.toISOString().substring(11, 19);
    var badge = document.createElement("span");
    badge.className = "badge" + (e.severity ? " badge-" + e.severity : "");
    badge.textContent = e.kind === "alert" ? "alert" + (e.severity ? " · " + e.severity : "") : (e.outcome || "");
    var action = document.createElement("span");
    action.className = "feed-action";
    action.textContent = e.action || "";
    var summary = document.createElement("span");
    summary.className = "feed-summary";
    summary.textContent = e.summary || "";
    li.append(t, " ", badge, " ", action, " ", summary);
    return li;
  }
  source.addEventListener("message", function (m) {
    if (seen[m.lastEventId]) {
      return;
    }
    seen[m.lastEventId] = true;
    var e;
    try {
      e = JSON.parse(m.data);
    } catch (err) {
      return;
    }
    var empty = list.querySelector(".feed-empty");
    if (empty) {
      empty.remove();
    }
    list.insertBefore(item(e), list.firstChild);
    while (list.children.length > 200) {
      list.removeChild(list.lastChild);
    }
  });
  source.addEventListener("gap", function () {
    if (status) {
      status.textContent = "Some events were skipped while this page could not keep up: reload it to see them all.";
    }
  });
});
