/// The files every console shares, served under `/console/`.
enum ConsoleAssets {}

extension ConsoleAssets {
    /// `lepton.js`: plain ES2020, no framework, loaded before the page's own script. It defines
    /// one global, `Lepton`:
    ///
    /// - `Lepton.api(path, {method, body, headers, as})` calls the service (`fetch`), with
    ///   `Authorization: Bearer KEY` when a key is saved in this tab. `body` may be a string, a
    ///   `Blob`/`File`, `FormData`, bytes, or a plain object (sent as JSON). `as` is `"json"`
    ///   (default), `"text"`, `"ndjson"` (an array of the lines' objects) or `"blob"`. A non-2xx
    ///   answer throws an `Error` whose `message` is the service's JSON `error` (on 401 prefixed
    ///   with "not authorised: ", and the key form opens) and whose `status` is the HTTP status.
    /// - `Lepton.showError(err)` / `Lepton.clearError()`: the shared `data-testid="error"` box.
    /// - `Lepton.busy(button, promise)`: disables the button (and marks it `aria-busy`) until the
    ///   promise settles; returns the promise.
    /// - `Lepton.el(tag, attrs, ...children)` and `Lepton.svg(...)`: DOM elements whose text is set
    ///   with text nodes only (never HTML), so service data cannot inject markup. `attrs`: `class`,
    ///   `dataset` (object), `style` (object, set through CSSOM: the policy forbids style
    ///   attributes), `on` + event (a listener), `true`/`false` for boolean attributes, other values
    ///   as attributes. Children: strings, numbers, nodes, arrays; null and false are skipped.
    /// - `Lepton.byTestId(id)`, `Lepton.clear(node)`, `Lepton.key()`, and the event `lepton:key` on
    ///   `document` when the key is saved or forgotten (a page may reload its data).
    static let script = #"""
"use strict";
(() => {
  const KEY = "lepton-api-key";
  const SVG = "http://www.w3.org/2000/svg";

  function key() {
    try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  function byTestId(id) { return document.querySelector(`[data-testid="${id}"]`); }

  function clear(node) { node.replaceChildren(); return node; }

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) { append(node, child); continue; }
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function build(node, attrs, children) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "innerHTML" || name === "outerHTML") throw new Error("Lepton.el never sets HTML");
      if (name === "class") node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name === "style") Object.assign(node.style, value);
      else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2).toLowerCase(), value);
      else if (value === true) node.setAttribute(name, "");
      else if (name === "value" && "value" in node) node.value = String(value);
      else node.setAttribute(name, String(value));
    }
    return append(node, children);
  }

  function el(tag, attrs, ...children) { return build(document.createElement(tag), attrs, children); }
  function svg(tag, attrs, ...children) { return build(document.createElementNS(SVG, tag), attrs, children); }

  function errorBox() { return byTestId("error"); }

  function showError(err) {
    const box = errorBox();
    const message = err && err.message ? err.message : String(err);
    if (!box) { console.warn(message); return; }
    box.textContent = message;
    box.hidden = false;
  }

  function clearError() {
    const box = errorBox();
    if (box) { box.textContent = ""; box.hidden = true; }
  }

  function showKeyForm() {
    const panel = byTestId("key-panel");
    if (!panel) return;
    panel.open = true;
    // Not while the user types elsewhere: an answer arriving later must not steal their keys.
    const input = byTestId("key-input");
    const typing = document.activeElement && document.activeElement.matches("input, textarea, select");
    if (input && !typing) input.focus();
  }

  function isPlainObject(v) {
    return v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype;
  }

  async function api(path, options = {}) {
    const headers = new Headers(options.headers || {});
    const k = key();
    if (k) headers.set("Authorization", "Bearer " + k);
    let body = options.body;
    if (isPlainObject(body) || Array.isArray(body)) {
      body = JSON.stringify(body);
      if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
    }
    const method = options.method || (body === undefined || body === null ? "GET" : "POST");
    let response;
    try {
      response = await fetch(path, { method, headers, body, cache: "no-store" });
    } catch (e) {
      const err = new Error("the service cannot be reached (" + (e && e.message ? e.message : e) + ")");
      err.status = 0;
      throw err;
    }
    if (!response.ok) {
      let message = "";
      try {
        const answer = JSON.parse(await response.text());
        if (answer && typeof answer.error === "string") message = answer.error;
      } catch (e) { /* not JSON: the status says it */ }
      if (!message) message = `${response.status} ${response.statusText || "error"}`.trim();
      if (response.status === 401) {
        message = "not authorised: " + message;
        showKeyForm();
      }
      const err = new Error(message);
      err.status = response.status;
      throw err;
    }
    switch (options.as || "json") {
      case "text": return response.text();
      case "blob": return response.blob();
      case "ndjson": return (await response.text()).split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
      default: return response.json();
    }
  }

  async function busy(button, promise) {
    const wasDisabled = button ? button.disabled : false;
    if (button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      button.classList.add("lepton-busy");
    }
    try {
      return await promise;
    } finally {
      if (button) {
        button.disabled = wasDisabled;
        button.removeAttribute("aria-busy");
        button.classList.remove("lepton-busy");
      }
    }
  }

  function showKeyStatus() {
    const status = byTestId("key-status");
    if (status) status.textContent = key() ? "key saved for this tab" : "no key saved";
  }

  function setUpKeyForm() {
    const form = byTestId("key-form");
    if (!form) return;
    const input = byTestId("key-input");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = input.value.trim();
      try {
        if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
      } catch (e) { showError(new Error("this browser keeps no session storage: the key cannot be saved")); }
      input.value = "";
      showKeyStatus();
      clearError();
      document.dispatchEvent(new CustomEvent("lepton:key"));
    });
    byTestId("key-forget").addEventListener("click", () => {
      try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
      input.value = "";
      showKeyStatus();
      document.dispatchEvent(new CustomEvent("lepton:key"));
    });
    showKeyStatus();
  }

  window.Lepton = Object.freeze({ api, busy, el, svg, showError, clearError, byTestId, clear, key });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpKeyForm);
  else setUpKeyForm();
})();
"""#
}
