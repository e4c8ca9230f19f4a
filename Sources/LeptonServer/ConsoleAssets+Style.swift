extension ConsoleAssets {
    /// `lepton.css`: the look the consoles share. One column that works from 360 px wide, system
    /// fonts, text and controls above 4.5:1 contrast, a visible focus ring on every control, and
    /// the table, form, panel and error styles the pages use (`.lepton-panel`, `.lepton-row`,
    /// `.lepton-table-wrap` around a wide table, `.lepton-muted`, `.lepton-error`).
    static let style = #"""
:root {
  --fg: #1b1f24; --muted: #4d5661; --bg: #ffffff; --panel: #f5f7fa; --line: #c9d1db;
  --accent: #0b57d0; --accent-fg: #ffffff; --bad: #a4161a; --bad-bg: #fdecec; --good: #1e6b34;
  --focus: #f59e0b;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
  font-size: 16px; line-height: 1.45; color: var(--fg); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
.lepton-header {
  display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .5rem 1rem;
  padding: .6rem 1rem; background: #12243a; color: #ffffff;
}
.lepton-header h1 { font-size: 1.2rem; margin: 0; }
.lepton-key summary { cursor: pointer; padding: .25rem .5rem; border-radius: 4px; }
.lepton-key[open] { width: 100%; }
.lepton-key-form { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; padding: .5rem 0; }
.lepton-key-form label { color: #ffffff; }
.lepton-key-form output { color: #e6edf5; font-size: .9rem; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h2 { font-size: 1.1rem; margin: 1.2rem 0 .5rem; }
h3 { font-size: 1rem; margin: .8rem 0 .4rem; }
.lepton-panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; margin: 0 0 1rem; }
.lepton-panel > h2:first-child { margin-top: 0; }
.lepton-row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.lepton-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 20rem), 1fr)); gap: 1rem; }
.lepton-muted { color: var(--muted); font-size: .92rem; }
.lepton-error {
  border: 1px solid var(--bad); background: var(--bad-bg); color: var(--bad);
  border-radius: 6px; padding: .6rem .8rem; margin: 0 0 1rem; font-weight: 600; overflow-wrap: anywhere;
}
label { font-weight: 600; }
input, select, textarea, button { font: inherit; }
input[type="text"], input[type="password"], input[type="number"], select, textarea {
  border: 1px solid #7a8594; border-radius: 6px; padding: .4rem .55rem; background: #ffffff; color: var(--fg);
  max-width: 100%;
}
input[type="file"] { max-width: 100%; }
textarea { width: 100%; min-height: 4rem; }
button {
  border: 1px solid var(--accent); background: var(--accent); color: var(--accent-fg);
  border-radius: 6px; padding: .4rem .9rem; cursor: pointer; min-height: 2.25rem;
}
button.lepton-secondary { background: #ffffff; color: var(--accent); }
button:disabled { opacity: .6; cursor: progress; }
button.lepton-busy::after { content: " …"; }
:focus-visible, summary:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
a { color: var(--accent); }
.lepton-table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #e8edf3; }
td.lepton-num, th.lepton-num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:hover { background: #eef3fa; }
tr[aria-selected="true"] { background: #dce8fb; }
.lepton-bar { height: .6rem; background: var(--accent); border-radius: 3px; min-width: 1px; }
[hidden] { display: none !important; }
@media (max-width: 480px) {
  main { padding: .6rem; }
  .lepton-header h1 { font-size: 1.05rem; }
  th, td { padding: .3rem .35rem; }
}
"""#
}
