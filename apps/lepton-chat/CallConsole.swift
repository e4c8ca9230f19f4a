import LeptonServer

/// The call console `lepton-chat serve` shows at `/`: a contact-centre supervisor plays caller
/// turns (typed, an uploaded recording, or the microphone) and sees what the agent understood and
/// answered, the session's whole conversation and the recent sessions of the store.
///
/// It calls the service's own routes (`POST /v1/sessions/{id}/turns`, `GET /v1/sessions`,
/// `GET /v1/sessions/{id}`, `POST /v1/speak`) through `Lepton.api`; the elements the browser tests
/// use carry `data-testid`s (`audio-input`, `text-input`, `send`, `transcript`, `intent`, `reply`
/// are the stable ones issue 20 names).
enum CallConsole {
    static let page = ConsolePage(title: "Lepton call console", html: html, script: script, style: style)

    static let html = #"""
<section class="lepton-panel" aria-labelledby="turn-heading">
<h2 id="turn-heading">Caller turn</h2>
<div class="lepton-row">
<label for="session-input">Session</label>
<input id="session-input" data-testid="session-input" type="text" maxlength="128" pattern="[A-Za-z0-9._\-]{1,128}" autocomplete="off" spellcheck="false">
<button type="button" class="lepton-secondary" data-testid="new-session">New session</button>
</div>
<form class="chat-form" data-testid="text-form">
<label for="text-input">What the caller says</label>
<div class="lepton-row">
<input id="text-input" data-testid="text-input" type="text" maxlength="2000" autocomplete="off" placeholder="I lost my card">
<button type="submit" data-testid="send">Send</button>
</div>
</form>
<div class="chat-audio">
<div>
<label for="audio-input">Or upload a recording (WAV, FLAC, Ogg)</label>
<input id="audio-input" data-testid="audio-input" type="file" accept="audio/*,.wav,.flac,.ogg,.oga,.opus">
</div>
<div class="lepton-row">
<button type="button" class="lepton-secondary" data-testid="record" aria-pressed="false">Record from the microphone</button>
<span class="lepton-muted" data-testid="record-status" aria-live="polite"></span>
</div>
</div>
<div class="lepton-row">
<input id="speak-replies" data-testid="speak-replies" type="checkbox">
<label for="speak-replies">Speak the agent's replies</label>
</div>
</section>
<section class="lepton-panel" aria-labelledby="result-heading" aria-live="polite">
<h2 id="result-heading">Last turn</h2>
<p class="lepton-muted" data-testid="result-empty">No turn yet: type or upload what a caller says.</p>
<dl class="chat-result" data-testid="result" hidden>
<dt>Transcript</dt>
<dd><span data-testid="transcript"></span><ol class="chat-segments" data-testid="segments"></ol></dd>
<dt>Intent</dt>
<dd><span data-testid="intent"></span><ol class="chat-runner-ups" data-testid="runner-ups" aria-label="Runner-up intents"></ol></dd>
<dt>Entities</dt>
<dd data-testid="entities"></dd>
<dt>Agent's reply</dt>
<dd><span data-testid="reply"></span><audio data-testid="reply-audio" controls hidden></audio></dd>
</dl>
</section>
<div class="lepton-grid">
<section class="lepton-panel" aria-labelledby="conversation-heading">
<h2 id="conversation-heading">Conversation</h2>
<p class="lepton-muted" data-testid="conversation-session"></p>
<ol class="chat-conversation" data-testid="conversation"></ol>
</section>
<section class="lepton-panel" aria-labelledby="sessions-heading">
<div class="lepton-row chat-sessions-head">
<h2 id="sessions-heading">Recent sessions</h2>
<button type="button" class="lepton-secondary" data-testid="refresh-sessions">Refresh</button>
</div>
<div class="lepton-table-wrap">
<table data-testid="sessions">
<thead><tr><th scope="col">Session</th><th scope="col" class="lepton-num">Turns</th><th scope="col">Last turn</th></tr></thead>
<tbody></tbody>
</table>
</div>
</section>
</div>
"""#

    static let style = #"""
.chat-form { margin: .6rem 0; }
.chat-form input[type="text"] { flex: 1 1 16rem; }
.chat-audio { display: flex; flex-wrap: wrap; gap: .6rem 1.5rem; align-items: end; margin: .6rem 0; }
.chat-audio label { display: block; margin-bottom: .2rem; }
.chat-result { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 0; }
.chat-result dt { font-weight: 700; }
.chat-result dd { margin: 0; overflow-wrap: anywhere; }
.chat-segments, .chat-runner-ups { margin: .25rem 0 0; padding-left: 1.2rem; color: var(--muted); font-size: .92rem; }
.chat-segment-time { font-variant-numeric: tabular-nums; margin-right: .4rem; }
.chat-entity { display: inline-block; border: 1px solid var(--line); border-radius: 4px; padding: 0 .35rem; margin: 0 .3rem .2rem 0; background: #ffffff; }
.chat-conversation { padding-left: 1.2rem; margin: 0; }
.chat-conversation li { margin-bottom: .6rem; }
.chat-caller { font-weight: 600; }
.chat-agent { color: #14365e; }
.chat-sessions-head { justify-content: space-between; }
.chat-sessions-head h2 { margin: 0; }
audio { display: block; margin-top: .4rem; max-width: 100%; }
@media (max-width: 480px) {
  .chat-result { grid-template-columns: 1fr; }
  .chat-result dt { margin-top: .4rem; }
}
"""#
}
