// Portico passkeys: the browser side of the WebAuthn ceremonies run by
// internal/passkey. No dependencies, no inline script: pages load it with
//   <script nonce="{{.Nonce}}" src="{{asset "passkey.js"}}" defer></script>
// and it works under the nonce CSP with 'strict-dynamic'.
//
// PAGE CONTRACT
//
// A form (or a button inside a form) marked with data-passkey:
//
//   <form data-passkey="register" data-begin="/account/passkeys/begin"
//         data-finish="/account/passkeys/finish" hidden>
//     <input type="hidden" name="csrf_token" value="{{.CSRF}}">
//     <input name="name" maxlength="64" placeholder="Work laptop">  (register only; optional)
//     <button type="submit">Add a passkey</button>
//     <p role="alert" hidden></p>
//   </form>
//
//   data-passkey="register"  navigator.credentials.create(): add a passkey.
//   data-passkey="login"     navigator.credentials.get(): sign in, either as
//                            the second factor or passwordless; the begin
//                            endpoint decides which.
//   data-begin, data-finish  same-origin URLs of the two endpoints below.
//   data-mediation="conditional"  (login, optional) also offer passkeys in
//                            the browser's autofill as soon as the page
//                            loads, where the browser supports it; the page
//                            needs an input with autocomplete="username webauthn".
//   data-alert="ID"          (optional) the element for messages; by default
//                            the first [role=alert] inside the form (one is
//                            added if there is none).
//   hidden                   (optional) keep the form hidden where passkeys do
//                            not work: the script shows it when they do.
//
// A <button data-passkey="..." data-begin=... data-finish=...> inside another
// form (a "Sign in with a passkey" button in the password form) works the
// same way; it uses that form's csrf_token and alert element, and never
// submits the form.
//
// THE ENDPOINTS (internal/passkey: BeginResponse, FinishRequest, ...)
//
//   begin:  POST application/x-www-form-urlencoded, body csrf_token=...,
//           same-origin credentials
//           -> 200 {"challenge_id": "...", "options": {"publicKey": {...}}}
//   finish: POST application/json, header X-CSRF-Token, same-origin credentials,
//           body {"challenge_id": "...", "credential": {...}, "name": "...",
//                 "csrf_token": "..."}    (name: register only)
//           -> 200 {"redirect": "/account/security"}; the script follows it
//              (same-origin only).
//   Either may answer non-2xx {"error": "message safe to show"}: the
//   message goes into the alert element.
//
// "credential" is the PublicKeyCredential in the JSON form of WebAuthn
// Level 3 (binary fields base64url without padding): what
// protocol.ParseCredentialCreationResponseBytes and
// ParseCredentialRequestResponseBytes read.
"use strict";

(function () {
  var MESSAGES = {
    unsupported: "This browser cannot use passkeys.",
    cancelled: "The passkey request was cancelled or timed out. Try again.",
    exists: "This device already has a passkey for your account.",
    security: "Passkeys cannot be used on this address.",
    network: "Portico could not be reached. Check your connection and try again.",
    failed: "Something went wrong with the passkey. Try again."
  };

  // base64url (no padding) <-> ArrayBuffer.
  function fromB64url(s) {
    s = String(s).replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) {
      s += "=";
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toB64url(buf) {
    if (!buf) {
      return undefined;
    }
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var out = { type: d.type, id: fromB64url(d.id) };
      if (d.transports) {
        out.transports = d.transports;
      }
      return out;
    });
  }

  // creationOptions and requestOptions turn the server's JSON options into
  // what navigator.credentials wants (binary fields as ArrayBuffers).
  function creationOptions(options) {
    var pk = Object.assign({}, options.publicKey || options);
    pk.challenge = fromB64url(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: fromB64url(pk.user.id) });
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return pk;
  }

  function requestOptions(options) {
    var pk = Object.assign({}, options.publicKey || options);
    pk.challenge = fromB64url(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    return pk;
  }

  function extensionResults(cred) {
    try {
      return cred.getClientExtensionResults() || {};
    } catch (e) {
      return {};
    }
  }

  // credentialJSON encodes a PublicKeyCredential for the finish endpoint.
  function credentialJSON(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle && r.userHandle.byteLength > 0) {
        response.userHandle = toB64url(r.userHandle);
      }
    }
    var out = {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: response,
      clientExtensionResults: extensionResults(cred)
    };
    if (cred.authenticatorAttachment) {
      out.authenticatorAttachment = cred.authenticatorAttachment;
    }
    return out;
  }

  // Ceremony is one element marked with data-passkey.
  function Ceremony(el) {
    this.el = el;
    this.form = el.tagName === "FORM" ? el : el.form;
    this.kind = el.getAttribute("data-passkey");
    this.begin = el.getAttribute("data-begin");
    this.finish = el.getAttribute("data-finish");
    this.busy = false;
    this.conditional = null; // AbortController of a pending conditional request
  }

  Ceremony.prototype.alertElement = function () {
    var id = this.el.getAttribute("data-alert");
    var box = id ? document.getElementById(id) : null;
    var scope = this.form || this.el.parentNode;
    if (!box && scope) {
      box = scope.querySelector("[role=alert]");
    }
    if (!box && scope) {
      box = document.createElement("p");
      box.setAttribute("role", "alert");
      box.hidden = true;
      scope.appendChild(box);
    }
    return box;
  };

  Ceremony.prototype.show = function (message) {
    var box = this.alertElement();
    if (!box) {
      return;
    }
    box.textContent = message || "";
    box.hidden = !message;
  };

  Ceremony.prototype.field = function (name) {
    var f = this.form && this.form.elements.namedItem(name);
    return f && typeof f.value === "string" ? f.value : "";
  };

  Ceremony.prototype.setBusy = function (busy) {
    this.busy = busy;
    var target = this.form || this.el;
    if (busy) {
      target.setAttribute("aria-busy", "true");
    } else {
      target.removeAttribute("aria-busy");
    }
    var buttons = this.el.tagName === "FORM" ? this.el.querySelectorAll("button, input[type=submit]") : [this.el];
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = busy;
    }
  };

  // post sends a request and returns the JSON answer, or throws an Error
  // whose message is safe to show.
  Ceremony.prototype.post = function (url, contentType, body) {
    var headers = { "Content-Type": contentType, "Accept": "application/json" };
    var token = this.field("csrf_token");
    if (contentType === "application/json" && token) {
      headers["X-CSRF-Token"] = token;
    }
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: body
    }).then(function (res) {
      return res.json().then(function (data) {
        return { ok: res.ok, data: data };
      }, function () {
        return { ok: res.ok, data: null };
      });
    }, function () {
      throw new Error(MESSAGES.network);
    }).then(function (r) {
      if (!r.ok || !r.data) {
        throw new Error(r.data && r.data.error ? r.data.error : MESSAGES.failed);
      }
      return r.data;
    });
  };

  Ceremony.prototype.run = function (mediation) {
    var self = this;
    var challengeID;
    var body = new URLSearchParams();
    body.set("csrf_token", self.field("csrf_token"));
    return self.post(self.begin, "application/x-www-form-urlencoded", body.toString()).then(function (data) {
      challengeID = data.challenge_id;
      if (self.kind === "register") {
        return navigator.credentials.create({ publicKey: creationOptions(data.options) });
      }
      var req = { publicKey: requestOptions(data.options) };
      if (mediation === "conditional") {
        self.conditional = new AbortController();
        req.mediation = "conditional";
        req.signal = self.conditional.signal;
      }
      return navigator.credentials.get(req);
    }).then(function (cred) {
      self.conditional = null;
      if (!cred) {
        throw new Error(MESSAGES.cancelled);
      }
      // A conditional request resolves when the person picks a passkey
      // from autofill: from then on it is a ceremony in progress.
      self.setBusy(true);
      var payload = {
        challenge_id: challengeID,
        credential: credentialJSON(cred),
        csrf_token: self.field("csrf_token")
      };
      if (self.kind === "register") {
        payload.name = self.field("name");
      }
      return self.post(self.finish, "application/json", JSON.stringify(payload));
    }).then(function (data) {
      var next = new URL(data.redirect || "/", window.location.href);
      if (next.origin !== window.location.origin) {
        throw new Error(MESSAGES.failed);
      }
      window.location.assign(next.href);
    });
  };

  Ceremony.prototype.fail = function (err) {
    var message = MESSAGES.failed;
    if (err && err.name === "AbortError") {
      return; // our own abort of a conditional request
    }
    if (err && err.name === "NotAllowedError") {
      message = MESSAGES.cancelled;
    } else if (err && err.name === "InvalidStateError") {
      message = MESSAGES.exists;
    } else if (err && err.name === "SecurityError") {
      message = MESSAGES.security;
    } else if (err && err.name === "Error" && err.message) {
      message = err.message; // from post: the server's text, or ours
    }
    this.show(message);
  };

  Ceremony.prototype.start = function (event) {
    if (event) {
      event.preventDefault();
    }
    var self = this;
    if (self.busy) {
      return;
    }
    if (self.conditional) {
      // The person chose the button over autofill: cancel the quiet request.
      self.conditional.abort();
      self.conditional = null;
    }
    self.show("");
    self.setBusy(true);
    // On success the page is leaving: the buttons stay disabled so that
    // nothing is submitted twice.
    self.run("").catch(function (err) {
      self.fail(err);
      self.setBusy(false);
    });
  };

  Ceremony.prototype.startConditional = function () {
    var self = this;
    var check = window.PublicKeyCredential.isConditionalMediationAvailable;
    if (typeof check !== "function") {
      return;
    }
    check.call(window.PublicKeyCredential).then(function (available) {
      if (!available || self.busy) {
        return;
      }
      return self.run("conditional").catch(function (err) {
        if (err && err.name === "AbortError") {
          return; // the button took over; its ceremony owns the form now
        }
        self.fail(err);
        self.setBusy(false);
      });
    }, function () {});
  };

  function init() {
    var elements = document.querySelectorAll("form[data-passkey], button[data-passkey]");
    var supported = !!(window.PublicKeyCredential && navigator.credentials && window.fetch);
    for (var i = 0; i < elements.length; i++) {
      var c = new Ceremony(elements[i]);
      if (!c.begin || !c.finish || (c.kind !== "register" && c.kind !== "login")) {
        continue;
      }
      if (!supported) {
        if (!c.el.hidden) {
          c.show(MESSAGES.unsupported);
        }
        continue;
      }
      c.el.hidden = false;
      if (c.el.tagName === "FORM") {
        c.el.addEventListener("submit", c.start.bind(c));
      } else {
        c.el.addEventListener("click", c.start.bind(c));
      }
      if (c.kind === "login" && c.el.getAttribute("data-mediation") === "conditional") {
        c.startConditional();
      }
    }
    document.documentElement.setAttribute("data-passkey-js", supported ? "ready" : "unsupported");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
