// atod view: polls the server and redraws; no dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
let runs = [];
let shownFile = "";

async function get(url) {
  const r = await fetch(url, { cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function status(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function chosenRuns() {
  return runs.filter((r) => $("run-" + r.id).checked).map((r) => r.id);
}

async function loadRuns() {
  runs = await get("api/runs");
  $("runs").innerHTML = "";
  $("ep-run").innerHTML = "";
  for (const r of runs) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = "run-" + r.id;
    box.checked = true;
    box.onchange = refresh;
    label.append(box, ` ${r.name} (${r.env || "?"}, ${r.method || "?"}) `);
    if (r.error) label.append(Object.assign(document.createElement("span"), { className: "error", textContent: r.error }));
    $("runs").append(label);
    $("ep-run").append(new Option(r.name, r.id));
  }
}

async function drawCharts() {
  const ids = chosenRuns();
  if (ids.length === 0) {
    $("charts").innerHTML = "";
    return;
  }
  const charts = await get(`api/charts?runs=${ids.join(",")}&group=${$("group").checked ? 1 : 0}`);
  for (const c of charts) {
    let div = $("chart-" + c.Name);
    if (!div) {
      div = Object.assign(document.createElement("div"), { id: "chart-" + c.Name, className: "chart" });
      $("charts").append(div);
    }
    if (div.dataset.svg !== c.SVG) {
      div.innerHTML = c.SVG;
      div.dataset.svg = c.SVG;
    }
  }
}

async function loadFiles() {
  const run = $("ep-run").value;
  if (run === "") return;
  const files = await get(`api/runs/${run}/episodes`);
  const sel = $("ep-file");
  const keep = sel.value;
  if (sel.options.length !== files.length) {
    sel.innerHTML = "";
    for (const f of files) sel.append(new Option(f.replace(".jsonl.gz", ""), f));
    if (files.includes(keep)) sel.value = keep;
  }
  if (sel.value && sel.value !== shownFile) await loadEpisodes();
}

let episodes = [];

async function loadEpisodes() {
  shownFile = $("ep-file").value;
  episodes = await get(`api/runs/${$("ep-run").value}/episodes/${encodeURIComponent(shownFile)}`);
  const sel = $("ep-index");
  sel.innerHTML = "";
  episodes.forEach((e, i) => sel.append(new Option(`${i}: ${e.task} (${e.model}, return ${e.return.toFixed(2)})`, i)));
  showEpisode();
}

// opdColor maps the OPD signal to green (teacher prefers the token) or red.
function opdColor(a) {
  const x = Math.min(1, Math.abs(a) / 3) * 0.6;
  return a >= 0 ? `rgba(0, 150, 0, ${x})` : `rgba(200, 0, 0, ${x})`;
}

function showEpisode() {
  const e = episodes[$("ep-index").value];
  const out = $("episode");
  out.innerHTML = "";
  if (!e) return;
  const train = e.kind === "train";
  out.append(Object.assign(document.createElement("div"), {
    className: "summary",
    textContent: `${e.kind} step ${e.step}, ${e.model}, task ${e.task}: ${e.won ? "won" : "not won"}, score ${e.score}, return ${e.return.toFixed(3)}`,
  }));
  e.turns.forEach((t, k) => {
    const div = Object.assign(document.createElement("div"), { className: "turn" + (t.invalid ? " invalid" : "") });
    div.dataset.tdur = t.tdur;
    // Shade by T-DUR weight: w > 1 (amplified) darker orange, w < 1 lighter.
    const shade = Math.max(0, Math.min(1, 0.5 + Math.log2(t.tdur || 1) / 4));
    div.style.background = `rgba(255, 165, 0, ${(0.35 * shade).toFixed(3)})`;
    div.style.borderLeftColor = `rgba(230, 120, 0, ${shade.toFixed(3)})`;
    div.append(Object.assign(document.createElement("span"), { className: "tdur", textContent: train ? `turn ${k + 1}, T-DUR w = ${t.tdur}` : `turn ${k + 1}` }));
    div.append(Object.assign(document.createElement("div"), { className: "obs", textContent: t.observation }));
    const reply = Object.assign(document.createElement("div"), { className: "reply" });
    for (const tok of t.tokens) {
      const span = Object.assign(document.createElement("span"), { className: "tok", textContent: tok.p });
      span.dataset.lps = tok.s;
      span.dataset.w = tok.w;
      if (train && tok.t !== null) {
        const a = tok.t - tok.s;
        span.dataset.lpt = tok.t;
        span.dataset.opd = a.toFixed(4);
        span.style.background = opdColor(a);
        span.title = `lp student ${tok.s}, lp teacher ${tok.t}, OPD ${a.toFixed(3)}, weight ${tok.w}`;
      } else {
        span.title = `lp ${tok.s}`;
      }
      reply.append(span);
    }
    div.append(reply);
    out.append(div);
  });
  out.append(Object.assign(document.createElement("div"), { className: "obs", textContent: "last: " + e.last_observation }));
}

async function refresh() {
  try {
    await drawCharts();
    await loadFiles();
    status("updated " + new Date().toLocaleTimeString(), false);
  } catch (err) {
    status(String(err.message || err), true);
  }
}

$("group").onchange = refresh;
$("ep-run").onchange = () => { $("ep-file").innerHTML = ""; shownFile = ""; refresh(); };
$("ep-file").onchange = () => loadEpisodes().catch((err) => status(String(err.message || err), true));
$("ep-index").onchange = showEpisode;

loadRuns().then(refresh).catch((err) => status(String(err.message || err), true));
setInterval(refresh, 1500);
