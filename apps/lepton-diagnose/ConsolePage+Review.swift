import LeptonServer

/// The radiology review that `lepton-diagnose serve` shows at `/`: a radiologist uploads a scan
/// (PNG or DICOM) and/or a report; the page sends them to `POST /v1/analyze?images=1` and shows
/// the scan as the service decoded it with the Grad-CAM colours over it (an opacity slider), the
/// image model's probabilities, each finding of the report with its evidence sentence marked by
/// status, the fused suggestion, and downloads of the JSON and the FHIR bundle from the same route.
/// Everything shown comes from the service's answer, which holds no patient identifier; data
/// reaches the page as text nodes and data URLs, never as HTML.
extension ConsolePage {
    static let radiologyReview = ConsolePage(title: "Lepton diagnose: radiology review", html: reviewHTML, script: reviewScript, style: reviewStyle)
}

private let reviewHTML = #"""
<p class="notice" data-testid="disclaimer"><strong>Decision support, not a diagnosis:</strong> a physician must review the images and the report.</p>
<form id="study" class="lepton-panel">
  <div class="field">
    <label for="scan">Scan (PNG or DICOM)</label>
    <input type="file" id="scan" name="scan" accept=".png,.dcm,image/png,application/dicom" data-testid="scan-input">
  </div>
  <div class="field">
    <label for="report">Report (plain text or XML)</label>
    <input type="file" id="report" name="report" accept=".txt,.xml,text/plain,application/xml" data-testid="report-input">
  </div>
  <button type="submit" id="analyze" data-testid="analyze">Analyze</button>
</form>
<div id="result" hidden>
  <div class="columns">
    <section id="image" class="lepton-panel" aria-labelledby="image-title" hidden>
      <h2 id="image-title">Scan and Grad-CAM</h2>
      <figure>
        <div class="stack">
          <img id="scan-image" data-testid="scan-image" alt="the scan as the service decoded it">
          <img id="heatmap" data-testid="heatmap" alt="Grad-CAM heatmap: where the image model looked for its predicted class">
        </div>
        <figcaption id="image-caption" data-testid="image-caption"></figcaption>
      </figure>
      <label for="opacity">Heatmap opacity</label>
      <input type="range" id="opacity" data-testid="opacity" min="0" max="100" step="5" value="45">
      <output id="opacity-value" for="opacity">45 %</output>
      <table>
        <caption>Image model probabilities</caption>
        <thead><tr><th scope="col">class</th><th scope="col">probability</th></tr></thead>
        <tbody id="probabilities" data-testid="probabilities"></tbody>
      </table>
      <p id="predicted" data-testid="predicted"></p>
      <p id="gate" data-testid="gate"></p>
    </section>
    <section id="report-box" class="lepton-panel" aria-labelledby="report-title" hidden>
      <h2 id="report-title">Report findings</h2>
      <p id="report-verdict" data-testid="report-verdict"></p>
      <ul id="findings" class="findings"></ul>
      <h3 id="report-text-title">The report</h3>
      <p id="report-text" class="report-text" data-testid="report-text" aria-labelledby="report-text-title"></p>
      <p class="legend">Evidence sentences as the service found them (names, dates and identifiers removed):
        <mark class="present">present</mark> <mark class="absent">absent</mark> <mark class="uncertain">uncertain</mark></p>
    </section>
  </div>
  <section id="suggestion" class="lepton-panel" data-testid="suggestion" aria-labelledby="suggestion-title">
    <h2 id="suggestion-title">Suggestion for review</h2>
    <p id="summary" data-testid="suggestion-summary"></p>
    <h3 id="agreements-title" hidden>Agreements</h3>
    <ul id="agreements" data-testid="agreements"></ul>
    <h3 id="disagreements-title" hidden>Disagreements</h3>
    <ul id="disagreements" data-testid="disagreements"></ul>
    <p id="disclaimer" class="notice"></p>
    <p id="model" class="model"></p>
  </section>
  <section class="lepton-panel" aria-labelledby="downloads-title">
    <h2 id="downloads-title">Downloads</h2>
    <button type="button" id="download-json" data-testid="download-json">Download JSON</button>
    <button type="button" id="download-fhir" data-testid="download-fhir">Download FHIR bundle</button>
  </section>
</div>
"""#

private let reviewStyle = #"""
.notice { border-left: 4px solid #c0182b; padding: .3em .6em; background: #fff4f4; max-width: 48em; }
.field { margin-bottom: .6em; }
.field label { display: block; }
.columns { display: flex; flex-wrap: wrap; gap: 1em; }
.columns > * { flex: 1 1 320px; min-width: 0; }
figure { margin: 0 0 .6em 0; }
.stack { position: relative; width: min(100%, 360px); aspect-ratio: 1 / 1; background: #000; }
.stack img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }
#heatmap { opacity: .45; }
.warn { color: #a00; font-weight: bold; }
.findings { list-style: none; padding: 0; }
.findings li { margin: .4em 0; padding: .3em .5em; border-left: 4px solid #999; }
.report-text { white-space: pre-wrap; line-height: 1.6; }
.findings .status { display: inline-block; min-width: 6.5em; font-weight: bold; text-transform: uppercase; font-size: .8em; }
.findings li.present { border-color: #c0182b; }
.findings li.absent { border-color: #1a7f37; }
.findings li.uncertain { border-color: #b26a00; }
mark { padding: 0 .2em; color: #111; }
mark.present { background: #ffd5d9; }
mark.absent { background: #d4f2dc; }
mark.uncertain { background: #ffe9b8; }
.model { color: #555; font-size: .85em; }
"""#

private let reviewScript = #"""
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let lastForm = null;

  const clear = Lepton.clear;

  // The chosen files as the route's form: parts `scan` and/or `report`, each with its file name.
  function studyForm() {
    const scan = $("scan").files[0], report = $("report").files[0];
    if (!scan && !report) return null;
    const form = new FormData();
    if (scan) form.append("scan", scan, scan.name);
    if (report) form.append("report", report, report.name);
    return form;
  }

  async function analyze(event) {
    event.preventDefault();
    Lepton.clearError();
    const form = studyForm();
    if (!form) { Lepton.showError(new Error("choose a scan, a report, or both")); return; }
    let study;
    try {
      study = await Lepton.busy($("analyze"), Lepton.api("/v1/analyze?images=1", { method: "POST", body: form, as: "json" }));
    } catch (err) {
      $("result").hidden = true;
      lastForm = null;
      Lepton.showError(err);
      return;
    }
    lastForm = form;
    show(study);
  }

  function show(s) {
    const image = s.image, pictures = s.images;
    $("image").hidden = !image;
    if (image) {
      $("scan-image").src = pictures ? pictures.scan : "";
      if (pictures && pictures.heatmap) { $("heatmap").src = pictures.heatmap; $("heatmap").hidden = false; } else { $("heatmap").hidden = true; }
      const opacity = Math.round(100 * (pictures ? pictures.heatmap_opacity : 0.45));
      $("opacity").value = String(opacity);
      setOpacity();
      $("image-caption").textContent = (image.format === "dicom" ? "DICOM" : "PNG") + (image.modality ? " (" + image.modality + ")" : "") +
        (pictures ? ", " + pictures.width + " × " + pictures.height + " pixels as decoded" : "") +
        (image.applicable === false ? "; no Grad-CAM: the image model does not assess this scan." : "; Grad-CAM of the predicted class.");
      $("gate").textContent = "Image check: " + (image.applicable === false ? "not a scan this model is for" : "passed") + " (" + image.reason + ").";
      $("gate").classList.toggle("warn", image.applicable === false);
      const probs = $("probabilities");
      clear(probs);
      for (const [name, p] of Object.entries(image.probabilities || {}).sort((a, b) => b[1] - a[1])) {
        probs.appendChild(Lepton.el("tr", { "data-testid": "probability", "data-class": name },
          Lepton.el("th", { scope: "row" }, name),
          Lepton.el("td", {}, Lepton.el("meter", { min: "0", max: "1", value: String(p), "aria-label": name }), " " + Number(p).toFixed(3))));
      }
      $("predicted").textContent = image.applicable === false ? "No image suggestion."
        : "Predicted: " + image.predicted + " (threshold " + image.threshold + ")";
    }
    const report = s.report;
    $("report-box").hidden = !report;
    if (report) {
      $("report-verdict").textContent = "The report reads as " + (report.abnormal ? "abnormal" : "normal") + ".";
      const list = $("findings");
      clear(list);
      const mentioned = report.findings.filter((f) => f.mentioned);
      for (const f of mentioned) {
        list.appendChild(Lepton.el("li", { class: f.status, "data-testid": "finding", "data-finding": f.finding, "data-status": f.status },
          Lepton.el("span", { class: "status" }, f.status), " ",
          Lepton.el("strong", {}, f.finding), ": ",
          Lepton.el("mark", { class: f.status }, f.evidence || "(no sentence)")));
      }
      if (!mentioned.length) list.appendChild(Lepton.el("li", {}, "No finding of the lexicon is mentioned."));
      // The whole report with each evidence sentence marked by its finding's status (the first
      // place the sentence occurs; sentences that overlap one already marked stay plain).
      const text = s.report_text || "";
      const spans = [];
      for (const f of mentioned) {
        const at = f.evidence ? text.indexOf(f.evidence) : -1;
        if (at >= 0) spans.push({ at, end: at + f.evidence.length, f });
      }
      spans.sort((a, b) => a.at - b.at);
      const box = $("report-text");
      clear(box);
      let pos = 0;
      for (const sp of spans) {
        if (sp.at < pos) continue;
        box.appendChild(document.createTextNode(text.slice(pos, sp.at)));
        box.appendChild(Lepton.el("mark", { class: sp.f.status, "data-finding": sp.f.finding, title: sp.f.finding + ": " + sp.f.status },
          text.slice(sp.at, sp.end)));
        pos = sp.end;
      }
      box.appendChild(document.createTextNode(text.slice(pos)));
    }
    $("summary").textContent = s.suggestion.summary;
    for (const kind of ["agreements", "disagreements"]) {
      const list = $(kind);
      clear(list);
      for (const text of s.suggestion[kind]) list.appendChild(Lepton.el("li", {}, text));
      $(kind + "-title").hidden = s.suggestion[kind].length === 0;
    }
    $("disclaimer").textContent = s.disclaimer;
    $("model").textContent = s.model ? "Image model: " + s.model.name + " " + s.model.version + " (sha256 " + s.model.sha256.slice(0, 12) + "…)" : "";
    $("result").hidden = false;
  }

  function setOpacity() {
    const v = Number($("opacity").value);
    $("heatmap").style.opacity = String(v / 100);
    $("opacity-value").textContent = v + " %";
  }

  // Downloads ask the route again for the same files, so the file is exactly the service's answer.
  async function download(button, format, name) {
    if (!lastForm) return;
    Lepton.clearError();
    try {
      const blob = await Lepton.busy(button, Lepton.api("/v1/analyze?format=" + format, { method: "POST", body: lastForm, as: "blob" }));
      const url = URL.createObjectURL(blob);
      const a = Lepton.el("a", { href: url, download: name });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) { Lepton.showError(err); }
  }

  $("study").addEventListener("submit", analyze);
  $("opacity").addEventListener("input", setOpacity);
  $("download-json").addEventListener("click", (e) => download(e.currentTarget, "json", "study.json"));
  $("download-fhir").addEventListener("click", (e) => download(e.currentTarget, "fhir", "study-fhir.json"));
})();
"""#
