import LeptonServer

/// The alert queue that `lepton-risk serve` shows at `/`: an analyst uploads a transactions CSV,
/// the page scores it through `POST /v1/score` (every row, so the alert budget can be moved
/// without asking again), ranks the alerts, pages through them, opens a row's explanation
/// (`POST /v1/explain`) with a drawing of the money's path, and draws a precision-recall curve
/// and a score histogram when the file carries labels. It uses only what any client of the JSON
/// routes could; data reaches the page as text nodes, never as HTML.
extension ConsolePage {
    static let alertQueue = ConsolePage(title: "Lepton risk: alert queue", html: alertQueueHTML, script: alertQueueScript, style: alertQueueStyle)
}

private let alertQueueHTML = #"""
<p class="lede lepton-muted">Score a file of transfers, then work the highest-risk ones first. Scores rank; an
analyst decides.</p>
<form id="upload" class="lepton-panel">
  <label for="csv">Transactions CSV (IBM AML columns; an <code>Is Laundering</code> column adds the charts)</label>
  <input type="file" id="csv" name="csv" accept=".csv,text/csv" data-testid="csv-input" required>
  <button type="submit" id="score" data-testid="score">Score</button>
</form>
<p id="summary" data-testid="summary" aria-live="polite"></p>
<section id="queue" class="lepton-panel" hidden aria-labelledby="queue-title">
  <h2 id="queue-title">Alerts</h2>
  <div class="budget">
    <label for="budget">Alert budget: the highest
      <input type="number" id="budget" data-testid="budget" min="0.1" max="100" step="0.1" value="1"> % of scored transactions</label>
    <output id="budget-count" data-testid="budget-count" for="budget" aria-live="polite"></output>
  </div>
  <div class="lepton-table-wrap">
    <table id="alerts" data-testid="alerts">
      <caption id="alerts-caption"></caption>
      <thead><tr><th scope="col">rank</th><th scope="col">row</th><th scope="col">score</th><th scope="col">time</th>
        <th scope="col">amount</th><th scope="col">from</th><th scope="col">to</th><th scope="col">typology hint</th>
        <th scope="col">main reasons</th></tr></thead>
      <tbody id="alert-rows"></tbody>
    </table>
  </div>
  <nav class="pager" aria-label="alert pages">
    <button type="button" id="prev" data-testid="prev-page">Previous</button>
    <span id="page" data-testid="page" aria-live="polite"></span>
    <button type="button" id="next" data-testid="next-page">Next</button>
  </nav>
</section>
<section id="explanation" class="lepton-panel" data-testid="explanation" hidden tabindex="-1" aria-labelledby="explanation-title">
  <h2 id="explanation-title">Explanation</h2>
  <p id="explanation-subject" data-testid="explanation-subject"></p>
  <p id="explanation-typology"></p>
  <div class="columns">
    <div>
      <h3>Drivers</h3>
      <table><caption id="drivers-caption">The parts of the score</caption>
        <thead><tr><th scope="col">reason</th><th scope="col">adds</th><th scope="col">feature</th></tr></thead>
        <tbody id="drivers" data-testid="drivers"></tbody></table>
    </div>
    <figure>
      <svg id="path" data-testid="money-path" role="img" aria-labelledby="path-caption" viewBox="0 0 360 300"></svg>
      <figcaption id="path-caption">The money's path: these transfers between the accounts involved (the alert in red).</figcaption>
    </figure>
  </div>
  <h3>Neighbouring transfers (both accounts, within three days)</h3>
  <div class="lepton-table-wrap">
    <table><thead><tr><th scope="col">row</th><th scope="col">time</th><th scope="col">from</th><th scope="col">to</th>
      <th scope="col">amount (USD)</th><th scope="col">format</th><th scope="col">score</th></tr></thead>
      <tbody id="neighbours" data-testid="neighbours"></tbody></table>
  </div>
</section>
<section id="charts" class="lepton-panel" hidden aria-labelledby="charts-title">
  <h2 id="charts-title">How the scores separate the file's labels</h2>
  <p id="pr-auc" data-testid="pr-auc"></p>
  <div class="columns">
    <figure><svg id="pr-curve" data-testid="pr-curve" role="img" aria-labelledby="pr-caption" viewBox="0 0 320 240"></svg>
      <figcaption id="pr-caption">Precision against recall, cutting the ranking at every score.</figcaption></figure>
    <figure><svg id="histogram" data-testid="histogram" role="img" aria-labelledby="hist-caption" viewBox="0 0 320 240"></svg>
      <figcaption id="hist-caption">Scores of laundering (red) and other (gray) transfers, 20 bins; counts on a log scale.</figcaption></figure>
  </div>
</section>
"""#

private let alertQueueStyle = #"""
.lede { max-width: 48em; }
.budget { display: flex; flex-wrap: wrap; gap: .5em 1em; align-items: center; margin-bottom: .5em; }
.budget input { width: 5em; }
#alerts tbody tr { cursor: pointer; }
#alerts tbody tr:hover, #alerts tbody tr.open { background: #fff3d6; }
.pager { display: flex; gap: 1em; align-items: center; margin-top: .5em; }
.columns { display: flex; flex-wrap: wrap; gap: 1em; }
.columns > * { flex: 1 1 320px; min-width: 0; }
figure { margin: 0; }
svg { width: 100%; max-width: 420px; height: auto; background: #fff; border: 1px solid #ccc; }
svg text { font: 10px sans-serif; fill: #222; }
svg .axis { stroke: #555; }
svg .grid { stroke: #e4e4e4; }
svg .curve { fill: none; stroke: #0b5cad; stroke-width: 2; }
svg .edge { stroke: #6b7a8f; stroke-width: 1.5; fill: none; }
svg .edge.alert { stroke: #c0182b; stroke-width: 2.5; }
svg .node { fill: #e8eef7; stroke: #0b5cad; }
svg .bar-neg { fill: #9aa3ad; }
svg .bar-pos { fill: #c0182b; }
"""#

private let alertQueueScript = #"""
"use strict";
(function () {
  const PAGE_SIZE = 20;
  const state = { file: null, summary: null, rows: [], alerts: [], page: 0, open: null };
  const $ = (id) => document.getElementById(id);

  const svg = Lepton.svg, clear = Lepton.clear;
  function money(amount, currency) {
    return Number(amount).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " " + currency;
  }
  function score(v) { return Number(v).toFixed(4); }

  // The same rule as POST /v1/score?budget=F: the highest ceil(F x count), at least one.
  function budgetCount(fraction, count) { return Math.max(1, Math.ceil(fraction * count)); }

  async function scoreFile(event) {
    event.preventDefault();
    Lepton.clearError();
    const file = $("csv").files[0];
    if (!file) { Lepton.showError(new Error("choose a transactions CSV first")); return; }
    const work = Lepton.api("/v1/score", { method: "POST", body: file, headers: { "Content-Type": "text/csv" }, as: "ndjson" });
    let lines;
    try { lines = await Lepton.busy($("score"), work); } catch (err) { reset(); Lepton.showError(err); return; }
    state.file = file;
    state.summary = lines[0];
    state.rows = lines.slice(1);
    state.open = null;
    $("explanation").hidden = true;
    const skipped = state.summary.skipped.reduce((n, s) => n + s.rows, 0);
    $("summary").textContent = state.summary.scored.toLocaleString("en-US") + " transactions scored" +
      (skipped ? ", " + skipped + " rows skipped (" + state.summary.skipped.map((s) => s.reason).join("; ") + ")" : "") +
      "; " + state.rows.filter((r) => r.flagged).length + " at or above the model's threshold " + state.summary.threshold + ".";
    $("queue").hidden = false;
    applyBudget();
    drawCharts();
  }

  function reset() {
    state.rows = []; state.alerts = []; state.summary = null;
    $("summary").textContent = "";
    $("queue").hidden = true; $("explanation").hidden = true; $("charts").hidden = true;
    clear($("alert-rows"));
  }

  function applyBudget() {
    if (!state.summary) return;
    const percent = Number($("budget").value);
    if (!(percent > 0 && percent <= 100)) {
      $("budget-count").textContent = "give a budget above 0 and at most 100 %";
      return;
    }
    const k = Math.min(state.rows.length, budgetCount(percent / 100, state.summary.scored));
    state.alerts = state.rows.slice(0, k);
    state.page = 0;
    $("budget-count").textContent = "→ " + k + " alert" + (k === 1 ? "" : "s") + " of " + state.summary.scored.toLocaleString("en-US");
    renderPage();
  }

  function renderPage() {
    const body = $("alert-rows");
    clear(body);
    const pages = Math.max(1, Math.ceil(state.alerts.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * PAGE_SIZE;
    state.alerts.slice(start, start + PAGE_SIZE).forEach((a, i) => {
      const open = Lepton.el("button", { type: "button", class: "link", "aria-label": "explain row " + a.row }, String(a.row));
      const tr = Lepton.el("tr", { "data-testid": "alert-row", "data-row": String(a.row), "data-score": String(a.score) },
        Lepton.el("td", {}, String(start + i + 1)),
        Lepton.el("td", {}, open),
        Lepton.el("td", { class: "lepton-num", "data-testid": "alert-score" }, score(a.score)),
        Lepton.el("td", {}, a.time),
        Lepton.el("td", { class: "lepton-num" }, money(a.amount, a.currency)),
        Lepton.el("td", {}, a.from),
        Lepton.el("td", {}, a.to),
        Lepton.el("td", {}, a.typologies.length ? a.typologies.join("; ") : "none"),
        Lepton.el("td", { "data-testid": "alert-reasons" },
          a.reasons ? a.reasons.map((r) => r.text).join("; ") : "below the model's threshold: open it for the explanation"));
      if (state.open === a.row) tr.classList.add("open");
      tr.addEventListener("click", () => explain(a));
      body.appendChild(tr);
    });
    $("alerts-caption").textContent = "Alerts ranked by score, highest first (" + state.alerts.length + " in the budget)";
    $("page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
  }

  async function explain(alert) {
    Lepton.clearError();
    let e;
    try {
      e = await Lepton.api("/v1/explain?row=" + encodeURIComponent(alert.row),
        { method: "POST", body: state.file, headers: { "Content-Type": "text/csv" }, as: "json" });
    } catch (err) { Lepton.showError(err); return; }
    state.open = alert.row;
    for (const tr of $("alert-rows").children) tr.classList.toggle("open", tr.dataset.row === String(alert.row));
    $("explanation-subject").textContent = e.subject + " — score " + score(e.score) + (e.flagged ? " (flagged)" : "");
    $("explanation-typology").textContent = "Typology: " + (e.typologies.length ? e.typologies.join("; ") : "none detected");
    const drivers = $("drivers");
    clear(drivers);
    $("drivers-caption").textContent = "The parts of the score: a typical transfer here scores " + score(e.baseline);
    for (const d of e.drivers) {
      drivers.appendChild(Lepton.el("tr", {}, Lepton.el("td", {}, d.reason),
        Lepton.el("td", {}, (d.effect >= 0 ? "+" : "") + Number(d.effect).toFixed(4)),
        Lepton.el("td", {}, d.feature === "other features" ? "" : d.feature + " = " + Number(d.value).toFixed(3))));
    }
    const neighbours = $("neighbours");
    clear(neighbours);
    for (const t of e.edges) {
      neighbours.appendChild(Lepton.el("tr", { "data-testid": "neighbour" }, Lepton.el("td", {}, String(t.row)), Lepton.el("td", {}, t.time),
        Lepton.el("td", {}, t.from), Lepton.el("td", {}, t.to),
        Lepton.el("td", {}, Number(t.amount_usd).toLocaleString("en-US", { maximumFractionDigits: 2 })),
        Lepton.el("td", {}, t.format), Lepton.el("td", {}, score(t.score))));
    }
    drawPath($("path"), alert, e.edges);
    $("explanation").hidden = false;
    $("explanation").focus();
  }

  // Accounts on a circle, one arrow per transfer (parallel transfers bend apart); the alert's own
  // transfer in red. The accounts are ordered by when money first leaves them, so the path reads
  // clockwise.
  function drawPath(root, alert, edges) {
    clear(root);
    const transfers = edges.slice();
    if (!transfers.some((t) => t.row === alert.row)) transfers.push({ row: alert.row, from: alert.from, to: alert.to, time: alert.time, amount_usd: alert.amount_usd });
    transfers.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.row - b.row));
    const order = [];
    for (const t of transfers) for (const acct of [t.from, t.to]) if (!order.includes(acct)) order.push(acct);
    const W = 360, H = 300, cx = W / 2, cy = H / 2 + 5, R = Math.min(W, H) / 2 - 45;
    const pos = new Map(order.map((acct, i) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / order.length;
      return [acct, { x: cx + R * Math.cos(angle), y: cy + R * Math.sin(angle) }];
    }));
    const defs = svg("defs");
    for (const [id, colour] of [["arrow", "#6b7a8f"], ["arrow-alert", "#c0182b"]]) {
      const m = svg("marker", { id: id, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      m.appendChild(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: colour }));
      defs.appendChild(m);
    }
    root.appendChild(defs);
    const seen = new Map();
    for (const t of transfers) {
      const a = pos.get(t.from), b = pos.get(t.to);
      const key = t.from + ">" + t.to;
      const n = seen.get(key) || 0;
      seen.set(key, n + 1);
      const isAlert = t.row === alert.row;
      const cls = "edge" + (isAlert ? " alert" : "");
      const marker = isAlert ? "url(#arrow-alert)" : "url(#arrow)";
      let shape;
      if (t.from === t.to) {
        shape = svg("path", { class: cls, d: `M${a.x - 6},${a.y - 12} C${a.x - 30},${a.y - 55} ${a.x + 30},${a.y - 55} ${a.x + 6},${a.y - 12}`, "marker-end": marker });
      } else {
        const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
        const sx = a.x + (dx / len) * 14, sy = a.y + (dy / len) * 14, ex = b.x - (dx / len) * 14, ey = b.y - (dy / len) * 14;
        const bend = 18 * (n + 1) * (n % 2 ? -1 : 1);
        const mx = (sx + ex) / 2 - (dy / len) * bend, my = (sy + ey) / 2 + (dx / len) * bend;
        shape = svg("path", { class: cls, d: `M${sx},${sy} Q${mx},${my} ${ex},${ey}`, "marker-end": marker });
      }
      shape.appendChild(svg("title", {}, "row " + t.row + ": " + t.from + " → " + t.to + ", " + Number(t.amount_usd).toFixed(2) + " USD, " + t.time));
      root.appendChild(shape);
    }
    for (const acct of order) {
      const p = pos.get(acct);
      const g = svg("g", { "data-account": acct });
      g.appendChild(svg("circle", { class: "node", cx: p.x, cy: p.y, r: 12 }));
      const label = acct.length > 14 ? acct.slice(0, 13) + "…" : acct;
      const below = p.y >= cy;
      g.appendChild(svg("text", { x: p.x, y: below ? p.y + 24 : p.y - 17, "text-anchor": "middle" }, label));
      g.appendChild(svg("title", {}, acct));
      root.appendChild(g);
    }
  }

  // Average precision as scikit-learn's average_precision_score: the sum over the distinct score
  // cuts of (recall gained) x (precision at that cut).
  function precisionRecall(rows) {
    const labelled = rows.filter((r) => r.label === 0 || r.label === 1).slice().sort((a, b) => b.score - a.score);
    const positives = labelled.filter((r) => r.label === 1).length;
    const points = [];
    let tp = 0, fp = 0, ap = 0, lastRecall = 0;
    for (let i = 0; i < labelled.length; i++) {
      if (labelled[i].label === 1) tp++; else fp++;
      if (i + 1 < labelled.length && labelled[i + 1].score === labelled[i].score) continue;
      const precision = tp / (tp + fp), recall = positives ? tp / positives : 0;
      ap += (recall - lastRecall) * precision;
      lastRecall = recall;
      points.push({ precision, recall });
    }
    return { positives, labelled: labelled.length, ap, points };
  }

  function axes(root, W, H, m, xLabel, yLabel) {
    for (let k = 0; k <= 4; k++) {
      const x = m.l + ((W - m.l - m.r) * k) / 4, y = H - m.b - ((H - m.t - m.b) * k) / 4;
      root.appendChild(svg("line", { class: "grid", x1: x, y1: m.t, x2: x, y2: H - m.b }));
      root.appendChild(svg("text", { x: x, y: H - m.b + 12, "text-anchor": "middle" }, (k / 4).toFixed(2)));
      if (yLabel !== null) root.appendChild(svg("text", { x: m.l - 4, y: y + 3, "text-anchor": "end" }, (k / 4).toFixed(2)));
    }
    root.appendChild(svg("line", { class: "axis", x1: m.l, y1: H - m.b, x2: W - m.r, y2: H - m.b }));
    root.appendChild(svg("line", { class: "axis", x1: m.l, y1: m.t, x2: m.l, y2: H - m.b }));
    root.appendChild(svg("text", { x: (W + m.l - m.r) / 2, y: H - 4, "text-anchor": "middle" }, xLabel));
    if (yLabel) root.appendChild(svg("text", { x: 10, y: (H - m.b + m.t) / 2, transform: `rotate(-90 10 ${(H - m.b + m.t) / 2})`, "text-anchor": "middle" }, yLabel));
  }

  function drawCharts() {
    const charts = $("charts");
    const labelled = state.rows.filter((r) => r.label === 0 || r.label === 1);
    const pr = precisionRecall(state.rows);
    if (labelled.length === 0 || pr.positives === 0) { charts.hidden = true; return; }
    charts.hidden = false;
    $("pr-auc").textContent = "Average precision (PR-AUC) " + pr.ap.toFixed(4) + " over " + pr.labelled.toLocaleString("en-US") +
      " labelled transactions, " + pr.positives + " of them laundering.";
    const W = 320, H = 240, m = { l: 40, r: 10, t: 10, b: 32 };
    const X = (v) => m.l + v * (W - m.l - m.r), Y = (v) => H - m.b - v * (H - m.t - m.b);
    const curve = $("pr-curve");
    clear(curve);
    axes(curve, W, H, m, "recall", "precision");
    let d = `M${X(0)},${Y(pr.points.length ? pr.points[0].precision : 1)}`;
    for (const p of pr.points) d += ` L${X(p.recall)},${Y(p.precision)}`;
    curve.appendChild(svg("path", { class: "curve", d: d }));

    const bins = 20, neg = new Array(bins).fill(0), pos = new Array(bins).fill(0);
    for (const r of labelled) {
      const b = Math.min(bins - 1, Math.max(0, Math.floor(r.score * bins)));
      (r.label === 1 ? pos : neg)[b]++;
    }
    const top = Math.log10(1 + Math.max(...neg, ...pos));
    const hist = $("histogram");
    clear(hist);
    axes(hist, W, H, m, "score", null);
    const bw = (W - m.l - m.r) / bins;
    for (let b = 0; b < bins; b++) {
      for (const [counts, cls, off] of [[neg, "bar-neg", 0], [pos, "bar-pos", bw / 2]]) {
        if (!counts[b]) continue;
        const h = (Math.log10(1 + counts[b]) / top) * (H - m.t - m.b);
        const bar = svg("rect", { class: cls, x: m.l + b * bw + off, y: H - m.b - h, width: bw / 2 - 1, height: h });
        bar.appendChild(svg("title", {}, counts[b] + (cls === "bar-pos" ? " laundering" : " other") + " with score " + (b / bins).toFixed(2) + "–" + ((b + 1) / bins).toFixed(2)));
        hist.appendChild(bar);
      }
    }
  }

  $("upload").addEventListener("submit", scoreFile);
  $("budget").addEventListener("input", applyBudget);
  $("prev").addEventListener("click", () => { state.page--; renderPage(); });
  $("next").addEventListener("click", () => { state.page++; renderPage(); });
})();
"""#
