extension CallConsole {
    /// The console's script (plain ES2020 on `lepton.js`): plays turns, shows the last one, the
    /// conversation and the recent sessions. A recording from the microphone is captured with
    /// MediaRecorder (Chromium records WebM/Opus, which our decoder does not read), decoded by the
    /// browser and sent as 16 kHz mono WAV.
    static let script = #"""
"use strict";
(() => {
  const { api, busy, el, showError, clearError, byTestId, clear } = window.Lepton;
  const SESSION = /^[A-Za-z0-9._-]{1,128}$/;
  const sessionInput = byTestId("session-input");

  function newSessionId() {
    const bytes = new Uint8Array(4);
    crypto.getRandomValues(bytes);
    return "call-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function session() {
    const id = sessionInput.value.trim();
    if (!SESSION.test(id)) throw new Error("session id must be 1 to 128 of A-Z a-z 0-9 . _ -");
    return id;
  }

  const percent = (x) => (x * 100).toFixed(1) + "%";
  const seconds = (x) => Number(x).toFixed(2);
  const when = (t) => new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";

  function showTurn(reply) {
    byTestId("result-empty").hidden = true;
    byTestId("result").hidden = false;
    byTestId("transcript").textContent = reply.transcript || "(silence)";
    clear(byTestId("segments")).append(...(reply.segments || []).map((s) =>
      el("li", { "data-testid": "segment" },
        el("span", { class: "chat-segment-time" }, `${seconds(s.start)}–${seconds(s.end)} s`), " ", s.text.trim())));
    clear(byTestId("intent")).append(
      el("span", { "data-testid": "intent-name" }, reply.intent), " ",
      el("span", { "data-testid": "intent-confidence" }, percent(reply.confidence)));
    const others = (reply.ranking || []).filter((r) => r.name !== reply.intent);
    clear(byTestId("runner-ups")).append(...others.map((r) =>
      el("li", { "data-testid": "runner-up" }, `${r.name} ${percent(r.confidence)}`)));
    const entities = reply.entities || [];
    clear(byTestId("entities")).append(...(entities.length
      ? entities.map((e) => el("span", { class: "chat-entity", "data-testid": "entity" }, `${e.type}: ${e.value}`))
      : [el("span", { class: "lepton-muted" }, "none")]));
    byTestId("reply").textContent = reply.reply;
  }

  async function speak(text) {
    const audio = byTestId("reply-audio");
    if (!byTestId("speak-replies").checked || !text) { audio.hidden = true; return; }
    const wav = await api("/v1/speak", { method: "POST", body: { text }, as: "blob" });
    if (audio.src) URL.revokeObjectURL(audio.src);
    audio.src = URL.createObjectURL(wav);
    audio.hidden = false;
    try { await audio.play(); } catch (e) { /* the browser may refuse to play unasked: the controls stay */ }
  }

  async function loadConversation(id) {
    const list = clear(byTestId("conversation"));
    byTestId("conversation-session").textContent = "Session " + id;
    let conversation;
    try {
      conversation = await api(`/v1/sessions/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err.status === 404) { list.append(el("li", { class: "lepton-muted" }, "No turns yet.")); return; }
      throw err;
    }
    list.append(...conversation.turns.map((t) => el("li", { "data-testid": "conversation-turn" },
      el("div", { class: "chat-caller" }, "Caller: ", t.text || "(silence)"),
      el("div", { class: "lepton-muted" }, `${t.intent} ${percent(t.confidence)}`),
      el("div", { class: "chat-agent" }, "Agent: ", t.reply))));
  }

  async function loadSessions() {
    const body = byTestId("sessions").tBodies[0];
    const listing = await api("/v1/sessions?limit=20");
    clear(body).append(...listing.sessions.map((s) => el("tr", { "data-testid": "session-row" },
      el("td", {}, s.id
        ? el("button", { type: "button", class: "lepton-secondary", "data-testid": "open-session",
            "aria-label": `Open session ${s.id}`, onclick: () => openSession(s.id) }, s.id)
        : el("span", { class: "lepton-muted" }, "(id sealed in this store)")),
      el("td", { class: "lepton-num" }, String(s.turns)),
      el("td", {}, when(s.updated)))));
    if (!listing.sessions.length) body.append(el("tr", {}, el("td", { colspan: 3, class: "lepton-muted" }, "No sessions yet.")));
  }

  function openSession(id) {
    sessionInput.value = id;
    clearError();
    loadConversation(id).catch(showError);
  }

  async function playTurn(button, body, headers) {
    clearError();
    const id = session();
    const reply = await busy(button, api(`/v1/sessions/${encodeURIComponent(id)}/turns`, { method: "POST", body, headers }));
    showTurn(reply);
    await Promise.all([speak(reply.reply), loadConversation(id), loadSessions()]);
  }

  byTestId("text-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = byTestId("text-input");
    const text = input.value.trim();
    if (!text) { showError(new Error("type what the caller says first")); input.focus(); return; }
    playTurn(byTestId("send"), { text }).then(() => { input.value = ""; }).catch(showError);
  });

  byTestId("audio-input").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const type = file.type && file.type.startsWith("audio/") ? file.type : "application/octet-stream";
    playTurn(null, file, { "Content-Type": type }).catch(showError).finally(() => { event.target.value = ""; });
  });

  byTestId("new-session").addEventListener("click", () => {
    sessionInput.value = newSessionId();
    clearError();
    loadConversation(sessionInput.value).catch(showError);
  });

  byTestId("refresh-sessions").addEventListener("click", (event) => {
    clearError();
    busy(event.target, loadSessions()).catch(showError);
  });

  // --- Microphone: MediaRecorder, then WAV (16 kHz mono, 16-bit) made in the browser ---------
  let recorder = null;
  const recordButton = byTestId("record");
  const recordStatus = byTestId("record-status");

  function wav(samples, rate) {
    const out = new DataView(new ArrayBuffer(44 + samples.length * 2));
    const text = (at, s) => { for (let i = 0; i < s.length; i++) out.setUint8(at + i, s.charCodeAt(i)); };
    text(0, "RIFF"); out.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE");
    text(12, "fmt "); out.setUint32(16, 16, true); out.setUint16(20, 1, true); out.setUint16(22, 1, true);
    out.setUint32(24, rate, true); out.setUint32(28, rate * 2, true); out.setUint16(32, 2, true); out.setUint16(34, 16, true);
    text(36, "data"); out.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      const x = Math.max(-1, Math.min(1, samples[i]));
      out.setInt16(44 + i * 2, x < 0 ? x * 0x8000 : x * 0x7fff, true);
    }
    return new Blob([out.buffer], { type: "audio/wav" });
  }

  async function recordingAsWav(blob) {
    const context = new AudioContext();
    let decoded;
    try { decoded = await context.decodeAudioData(await blob.arrayBuffer()); } finally { context.close(); }
    const rate = 16000;
    const offline = new OfflineAudioContext(1, Math.max(1, Math.ceil(decoded.duration * rate)), rate);
    const source = offline.createBufferSource();
    source.buffer = decoded;
    source.connect(offline.destination);
    source.start();
    const rendered = await offline.startRendering();
    return wav(rendered.getChannelData(0), rate);
  }

  async function startRecording() {
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      throw new Error("this browser cannot record here (the microphone needs https or localhost)");
    }
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.addEventListener("dataavailable", (e) => { if (e.data.size) chunks.push(e.data); });
    recorder.addEventListener("stop", () => {
      stream.getTracks().forEach((t) => t.stop());
      recordStatus.textContent = "sending the recording…";
      recordingAsWav(new Blob(chunks, { type: recorder.mimeType }))
        .then((file) => playTurn(recordButton, file, { "Content-Type": "audio/wav" }))
        .catch(showError)
        .finally(() => { recordStatus.textContent = ""; recorder = null; });
    });
    recorder.start();
    recordButton.setAttribute("aria-pressed", "true");
    recordButton.textContent = "Stop and send";
    recordStatus.textContent = "recording…";
  }

  recordButton.addEventListener("click", () => {
    clearError();
    if (recorder && recorder.state === "recording") {
      recordButton.setAttribute("aria-pressed", "false");
      recordButton.textContent = "Record from the microphone";
      recorder.stop();
      return;
    }
    startRecording().catch((err) => {
      recorder = null;
      showError(err.name === "NotAllowedError" ? new Error("the browser was not allowed to use the microphone") : err);
    });
  });

  document.addEventListener("lepton:key", () => loadSessions().catch(showError));

  sessionInput.value = newSessionId();
  loadSessions().catch(showError);
})();
"""#
}
