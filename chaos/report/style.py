"""The one style sheet of every HTML page gochaos writes: a run's report and the history of runs."""

from __future__ import annotations

CSS = """
:root { --pass:#1a7f37; --fail:#cf222e; --inconclusive:#9a6700; --ink:#1f2328; --muted:#59636e;
        --line:#d8dee4; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); line-height:1.45;
       font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif; }
main { max-width:1200px; margin:0 auto; padding:24px 20px 60px; }
h1 { font-size:22px; margin:0 0 4px; } h2 { font-size:20px; margin:0; } h3 { font-size:16px; margin:24px 0 8px; }
.muted { color:var(--muted); }
.card { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 20px; margin:18px 0; }
.card > h3:first-child { margin-top:0; }
.badge { display:inline-block; padding:2px 10px; border-radius:999px; color:#fff; font-weight:700;
         font-size:12px; letter-spacing:.04em; vertical-align:middle; }
.badge.big { font-size:18px; padding:5px 16px; }
.pass { background:var(--pass); } .fail { background:var(--fail); } .inconclusive { background:var(--inconclusive); }
.verdict { display:flex; align-items:center; gap:14px; flex-wrap:wrap; }
.tag { border:1px solid var(--line); border-radius:6px; padding:1px 8px; font-size:12px; color:var(--muted); }
.tag.buggy { border-color:var(--fail); color:var(--fail); }
dl.facts { display:grid; grid-template-columns:repeat(auto-fill,minmax(210px,1fr)); gap:8px 18px; margin:14px 0 0; }
dl.facts div { border-left:3px solid var(--line); padding-left:8px; }
dl.facts dt { font-size:12px; color:var(--muted); } dl.facts dd { margin:0; font-weight:600; overflow-wrap:anywhere; }
figure { margin:16px 0 0; } figure svg { width:100%; height:auto; display:block; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; } td.num { text-align:right; font-variant-numeric:tabular-nums; }
.finding { border:1px solid var(--line); border-left:5px solid var(--line); border-radius:8px;
           padding:10px 14px; margin:10px 0; }
.finding.status-fail { border-left-color:var(--fail); }
.finding.status-inconclusive { border-left-color:var(--inconclusive); }
.finding.status-pass { border-left-color:var(--pass); }
.finding header { display:flex; gap:10px; align-items:baseline; flex-wrap:wrap; }
code, pre { font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace; font-size:12.5px; }
.check { font-weight:700; }
pre { background:#f6f8fa; border:1px solid var(--line); border-radius:6px; padding:8px 10px; overflow-x:auto;
      white-space:pre; margin:6px 0; max-height:420px; }
.nowrap { white-space:nowrap; }
.evidence .at { font-size:12px; color:var(--muted); }
.figures { font-size:12.5px; color:var(--muted); margin:6px 0; }
.figures code { color:var(--ink); }
details { margin:8px 0; } summary { cursor:pointer; font-weight:600; }
h4 { font-size:14px; margin:14px 0 4px; }
.trends { display:flex; flex-wrap:wrap; gap:4px 12px; } .trends figure { margin:4px 0 0; flex:0 1 264px; }
p.legend { font-size:12px; margin:4px 0; }
ul.regressions { color:var(--fail); margin:6px 0; padding-left:20px; }
"""
