/**
 * The dashboard `strata serve` shows at /: one self-contained page (no external scripts, fonts
 * or styles; it works offline) that polls the API every two seconds.
 *
 * Charts are drawn as SVG by the page's own script, not a charting library: they stay text in
 * the DOM (axis labels, legends and the hover read-out can be read by a screen reader, a test or
 * a search in the page), they need no canvas or styles outside this file, and the whole page is
 * smaller than uPlot alone. Every chart has a time axis, a labelled y axis with its unit and a
 * read-out of the exact values under the pointer (or the arrow keys, once the chart has focus).
 *
 * A tier keeps one colour everywhere (charts, legends, the health table): its position in the
 * config picks it from TIER_COLORS. Models use their own palette, so they are never mistaken
 * for tiers. Light and dark follow prefers-color-scheme.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Strata cache</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<style>
  :root { --bg: #f6f7f9; --card: #fff; --ink: #1d2733; --muted: #52606d; --grid: #e4e7ec; --axis: #98a2b3; --bad: #b42318; --good: #067647; --warn: #b54708; --head: #1d2733; }
  @media (prefers-color-scheme: dark) {
    :root { --bg: #0f141a; --card: #18202a; --ink: #e6eaf0; --muted: #a3adba; --grid: #2a3441; --axis: #6b7787; --bad: #f97066; --good: #47cd89; --warn: #fdb022; --head: #0b0f14; }
  }
  * { box-sizing: border-box; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: var(--bg); color: var(--ink); }
  header { background: var(--head); color: #fff; padding: 10px 20px; display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; }
  header h1 { font-size: 18px; margin: 0; }
  header .meta { color: #c4cbd4; }
  #error { color: #fda29b; }
  .ranges { display: flex; gap: 4px; margin-left: auto; }
  .ranges button { font: inherit; color: #fff; background: transparent; border: 1px solid #667085; border-radius: 4px; padding: 2px 10px; cursor: pointer; }
  .ranges button[aria-pressed="true"] { background: #fff; color: #1d2733; border-color: #fff; }
  .ranges button:focus-visible, .chart:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 460px), 1fr)); gap: 16px; padding: 16px 20px; }
  section { background: var(--card); border-radius: 6px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; min-width: 0; position: relative; }
  h2 { font-size: 13px; margin: 0 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
  .cards { display: flex; flex-wrap: wrap; gap: 8px 24px; }
  .cards div { min-width: 120px; }
  .cards .label { color: var(--muted); font-size: 12px; }
  .big { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .mid { font-size: 16px; font-weight: 600; font-variant-numeric: tabular-nums; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--grid); vertical-align: top; }
  th { color: var(--muted); font-weight: 500; font-size: 12px; }
  td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .scroll { overflow-x: auto; }
  button.sort { font: inherit; color: inherit; background: none; border: 0; padding: 0; cursor: pointer; }
  th[aria-sort="descending"] button.sort::after { content: ' \\25BE'; }
  .chart { display: block; width: 100%; height: auto; overflow: visible; }
  .chart text { fill: var(--muted); font-size: 11px; }
  .chart .axis-title { fill: var(--ink); font-size: 12px; }
  .chart .grid { stroke: var(--grid); }
  .chart .axis { stroke: var(--axis); }
  .chart .cursor { stroke: var(--axis); stroke-dasharray: 3 3; }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 4px; font-size: 12px; }
  .sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
  .tip { position: absolute; pointer-events: none; background: var(--card); color: var(--ink); border: 1px solid var(--axis); border-radius: 4px; padding: 4px 8px; font-size: 12px; box-shadow: 0 2px 6px #0003; max-width: calc(100% - 8px); overflow-wrap: anywhere; z-index: 2; }
  .tip[hidden] { display: none; }
  .up { color: var(--good); } .degraded { color: var(--warn); } .down { color: var(--bad); font-weight: 600; }
  .firing { color: var(--bad); font-weight: 600; } .resolved { color: var(--good); }
  .empty, .note { color: var(--muted); font-style: italic; }
  .note { margin: 0 0 6px; font-size: 12px; }
  @media (max-width: 560px) { main { padding: 10px; gap: 10px; } header { padding: 8px 10px; } .ranges { margin-left: 0; } }
</style>
</head>
<body>
<header>
  <h1>Strata cache</h1><span class="meta" id="scope"></span><span class="meta" id="updated-at">connecting...</span><span id="error" role="alert"></span>
  <div class="ranges" role="group" aria-label="time range">
    <button type="button" data-range="15m" aria-pressed="true">15 min</button><button type="button" data-range="1h" aria-pressed="false">1 h</button><button type="button" data-range="24h" aria-pressed="false">24 h</button><button type="button" data-range="7d" aria-pressed="false">7 d</button>
  </div>
</header>
<main>
  <section><h2>Overall</h2>
    <div class="cards">
      <div><div class="label">lookups</div><div class="big" id="lookups">-</div></div>
      <div><div class="label">hit rate</div><div class="big" id="hit-rate">-</div></div>
      <div><div class="label">saved tokens</div><div class="big" id="saved-tokens">-</div></div>
      <div><div class="label">saved</div><div class="big" id="saved-cost">-</div></div>
      <div><div class="label" id="saved-day-label">saved, last 24 h</div><div class="mid" id="saved-day">-</div></div>
      <div><div class="label" id="saved-week-label">saved, last 7 d</div><div class="mid" id="saved-week">-</div></div>
    </div>
  </section>
  <section><h2>Tier health</h2><div class="scroll"><table id="tiers"><thead><tr><th>tier</th><th>status</th><th>since</th><th class="n">hits</th><th class="n">misses</th><th class="n">entries</th><th class="n">p99 ms</th></tr></thead><tbody></tbody></table></div></section>
  <section><h2>Hit rate</h2><svg class="chart" id="hit-rate-chart" viewBox="0 0 600 240" tabindex="0" role="img" aria-label="hit rate over time, per tier"></svg><div class="legend" id="hit-rate-legend"></div><div class="tip" hidden></div></section>
  <section><h2>Tier latency (p99)</h2><svg class="chart" id="latency-chart" viewBox="0 0 600 240" tabindex="0" role="img" aria-label="p99 latency over time, per tier"></svg><div class="legend" id="latency-legend"></div><div class="tip" hidden></div></section>
  <section><h2>Savings</h2><svg class="chart" id="savings-chart" viewBox="0 0 600 240" tabindex="0" role="img" aria-label="tokens saved over time, per model"></svg><div class="legend" id="savings-legend"></div><div class="tip" hidden></div></section>
  <section><h2>Semantic matching</h2><p class="note" hidden>What this process matched: a fleet's processes do not report their matching.</p><div id="semantic"><p class="empty">no similarity tier</p></div></section>
  <section><h2>Top namespaces</h2><p class="note" hidden>This process's own lookups: a fleet's processes report tiers and models, not namespaces.</p><div class="scroll"><table id="namespaces"><thead><tr><th>namespace</th><th class="n" aria-sort="descending"><button type="button" class="sort" data-sort="lookups">lookups</button></th><th class="n" aria-sort="none"><button type="button" class="sort" data-sort="hitRate">hit rate</button></th><th class="n" aria-sort="none"><button type="button" class="sort" data-sort="savedTokens">saved tokens</button></th><th class="n" aria-sort="none"><button type="button" class="sort" data-sort="savedCost">saved $</button></th></tr></thead><tbody></tbody></table></div></section>
  <section><h2>Top models</h2><p class="note" hidden>The fleet's hits and savings per model (lookups are not reported per model).</p><div class="scroll"><table id="models"><thead><tr><th>model</th><th class="n" aria-sort="descending"><button type="button" class="sort" data-sort="lookups">lookups</button></th><th class="n" aria-sort="none"><button type="button" class="sort" data-sort="hitRate">hit rate</button></th><th class="n" aria-sort="none"><button type="button" class="sort" data-sort="savedTokens">saved tokens</button></th><th class="n" aria-sort="none"><button type="button" class="sort" data-sort="savedCost">saved $</button></th></tr></thead><tbody></tbody></table></div></section>
  <section><h2>Alerts</h2><div id="alerts-active">none firing</div><h2 style="margin-top:12px">Recent</h2><div class="scroll"><table id="alerts-recent"><thead><tr><th>state</th><th>alert</th><th>fired</th><th>resolved</th><th class="n">lasted</th></tr></thead><tbody></tbody></table></div></section>
</main>
<script>
// Read by hand: URLSearchParams would turn a '+' of the token into a space.
const tokenPart = location.hash.slice(1).split('&').find((p) => p.startsWith('token='));
const token = tokenPart ? decodeURIComponent(tokenPart.slice(6)) : null;
const headers = token ? { authorization: 'Bearer ' + token } : {};
const TIER_COLORS = ['#2e90fa', '#f79009', '#12b76a', '#9e77ed', '#f04438', '#0ba5ec', '#ee46bc', '#a15c07'];
const MODEL_COLORS = ['#6172f3', '#d444f1', '#15b79e', '#fb6514', '#4e5ba6', '#e31b54', '#669f2a', '#875bf7'];
const ALL_COLOR = 'var(--ink)';
// Charts are drawn at their on-screen width (viewBox = CSS pixels), so text keeps its size in a narrow window.
const H = 240, L = 56, R = 14, T = 12, B = 44;
const widthOf = (svg) => Math.max(300, Math.round(svg.getBoundingClientRect().width) || 600);
let range = '15m';
let tierColor = {};
const charts = {};

const get = (path) => fetch(path, { headers }).then((r) => {
  if (r.status === 401) throw new Error(token ? 'the token in the address is not accepted (HTTP 401)' : 'this server wants a token: open it as /#token=<token> (URL-encoded)');
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
});
const $ = (id) => document.getElementById(id);
const text = (id, value) => { $(id).textContent = value; };
// Names come from applications: control and bidi-override characters are shown as code points, so a
// name cannot reverse or hide the text around it.
const esc = (s) => String(s)
  .replace(/[\\u0000-\\u001f\\u007f-\\u009f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]/g, (c) => '\\\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
  .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const num = (n) => Math.round(n).toLocaleString('en-US');
const usd = (n) => '$' + n.toFixed(4);
const pct = (n) => (n * 100).toFixed(1) + '%';
const pad = (n) => String(n).padStart(2, '0');
const clock = (t) => { const d = new Date(t); return pad(d.getHours()) + ':' + pad(d.getMinutes()); };
const clockSeconds = (t) => clock(t) + ':' + pad(new Date(t).getSeconds());
const dayName = (t) => new Date(t).toLocaleDateString('en-US', { weekday: 'short', day: 'numeric' });
const stamp = (t) => new Date(t).toLocaleString('en-US', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const ago = (ms) => ms < 60000 ? Math.round(ms / 1000) + ' s' : ms < 3600000 ? Math.round(ms / 60000) + ' min' : ms < 86400000 ? (ms / 3600000).toFixed(1) + ' h' : (ms / 86400000).toFixed(1) + ' d';
const duration = (ms) => ms < 60000 ? +(ms / 1000).toFixed(1) + ' s' : ms < 3600000 ? +(ms / 60000).toFixed(1) + ' min' : ms < 86400000 ? +(ms / 3600000).toFixed(1) + ' h' : +(ms / 86400000).toFixed(1) + ' d';
const swatch = (color) => '<span class="sw" style="background:' + color + '"></span>';

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, 10800, 21600, 43200, 86400].map((s) => s * 1000);
/** Time ticks at the smallest round step that gives at most \`most\`; labelled by day, minute or second. */
function timeTicks(from, to, most) {
  const step = STEPS.find((s) => (to - from) / s <= most) || 86400000;
  // Steps of an hour or more fall on local hours and midnights, not UTC ones.
  const offset = step >= 3600000 ? new Date(from).getTimezoneOffset() * 60000 : 0;
  const ticks = [];
  for (let t = Math.ceil((from - offset) / step) * step + offset; t <= to; t += step) ticks.push(t);
  return { ticks, label: step >= 86400000 ? dayName : step < 60000 ? clockSeconds : clock };
}

/** Up to six round values from 0 to at least max. */
function linearTicks(max) {
  const top = max > 0 ? max : 1;
  const raw = top / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v <= top + step * 1e-9; v += step) ticks.push(v);
  if (ticks[ticks.length - 1] < top) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

/** Decades covering [min, max] (log scale). */
function logTicks(min, max) {
  let lo = Math.floor(Math.log10(Math.max(min, 1e-4))), hi = Math.ceil(Math.log10(Math.max(max, 1e-4)));
  if (hi <= lo) hi = lo + 1;
  const ticks = [];
  for (let e = lo; e <= hi; e++) ticks.push(Math.pow(10, e));
  return ticks;
}

const fmtTick = (v) => v >= 1000 ? (v / 1000) + 'k' : v >= 1 ? String(+v.toFixed(2)) : String(+v.toPrecision(1));

/**
 * One line chart: series [{ name, color, values: [{ t, v }] }] over [from, to]; y in \`unit\`,
 * linear from 0 (or fixed 0..yMax) or log. Points with v === null leave a gap.
 */
function lineChart(id, spec) {
  const svg = $(id), W = widthOf(svg);
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  const values = spec.series.flatMap((s) => s.values.filter((p) => p.v !== null).map((p) => p.v));
  const x = (t) => L + ((t - spec.from) / (spec.to - spec.from)) * (W - L - R);
  let yTicks, y;
  if (spec.log) {
    const positive = values.filter((v) => v > 0);
    yTicks = logTicks(positive.length ? Math.min(...positive) : 0.01, positive.length ? Math.max(...positive) : 1);
    const lo = Math.log10(yTicks[0]), hi = Math.log10(yTicks[yTicks.length - 1]);
    y = (v) => H - B - ((Math.log10(Math.max(v, yTicks[0])) - lo) / (hi - lo)) * (H - T - B);
  } else {
    yTicks = spec.yMax !== undefined ? linearTicks(spec.yMax) : linearTicks(values.length ? Math.max(...values) : 0);
    const top = yTicks[yTicks.length - 1];
    y = (v) => H - B - (v / top) * (H - T - B);
  }
  const time = timeTicks(spec.from, spec.to, Math.max(2, Math.min(8, Math.floor((W - L - R) / 75))));
  let out = '';
  for (const v of yTicks) out += '<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + y(v).toFixed(1) + '" y2="' + y(v).toFixed(1) + '"/><text class="y-tick" x="' + (L - 6) + '" y="' + (y(v) + 4).toFixed(1) + '" text-anchor="end">' + esc(fmtTick(v)) + '</text>';
  for (const t of time.ticks) out += '<line class="axis" x1="' + x(t).toFixed(1) + '" x2="' + x(t).toFixed(1) + '" y1="' + (H - B) + '" y2="' + (H - B + 4) + '"/><text class="x-tick" x="' + x(t).toFixed(1) + '" y="' + (H - B + 16) + '" text-anchor="middle">' + esc(time.label(t)) + '</text>';
  out += '<line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '"/><line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '"/>';
  out += '<text class="axis-title x-title" x="' + ((L + W - R) / 2) + '" y="' + (H - 6) + '" text-anchor="middle">' + esc(spec.xTitle) + '</text>';
  out += '<text class="axis-title y-title" transform="translate(14 ' + ((T + H - B) / 2) + ') rotate(-90)" text-anchor="middle">' + esc(spec.yTitle) + '</text>';
  for (const s of spec.series) {
    let d = '', open = false;
    for (const p of s.values) {
      if (p.v === null) { open = false; continue; }
      d += (open ? 'L' : 'M') + x(p.t).toFixed(1) + ' ' + y(p.v).toFixed(1) + ' ';
      open = true;
    }
    // A lone point (one sample, or one between gaps) is drawn as a dot so it can be seen.
    out += '<path data-series="' + esc(s.name) + '" d="' + d.trim() + '" fill="none" style="stroke:' + s.color + '" stroke-width="2" stroke-linejoin="round"/>';
    for (let i = 0; i < s.values.length; i++) {
      const p = s.values[i], before = s.values[i - 1], after = s.values[i + 1];
      if (p.v !== null && (!before || before.v === null) && (!after || after.v === null)) out += '<circle data-series="' + esc(s.name) + '" cx="' + x(p.t).toFixed(1) + '" cy="' + y(p.v).toFixed(1) + '" r="2.5" style="fill:' + s.color + '"/>';
    }
  }
  out += '<line class="cursor" x1="0" x2="0" y1="' + T + '" y2="' + (H - B) + '" visibility="hidden"/>';
  svg.innerHTML = out;
  svg.dataset.range = range;
  $(id.replace('-chart', '-legend')).innerHTML = spec.series.map((s) => '<span data-series="' + esc(s.name) + '">' + swatch(s.color) + esc(s.name) + '</span>').join('') || '<span class="empty">no data in this range</span>';
  const times = [...new Set(spec.series.flatMap((s) => s.values.map((p) => p.t)))].sort((a, b) => a - b);
  charts[id] = { spec, x, W, times, index: charts[id] && charts[id].index };
  if (charts[id].index !== undefined) showTip(id, Math.min(charts[id].index, times.length - 1));
}

/** The read-out: every series' exact value at the time nearest the pointer. */
function showTip(id, index) {
  const c = charts[id], svg = $(id), tip = svg.parentElement.querySelector('.tip');
  if (!c || !c.times.length || index < 0) return hideTip(id);
  c.index = index;
  const t = c.times[index];
  const cursor = svg.querySelector('.cursor');
  cursor.setAttribute('x1', c.x(t)); cursor.setAttribute('x2', c.x(t)); cursor.setAttribute('visibility', 'visible');
  const rows = c.spec.series.map((s) => {
    const p = s.values.find((q) => q.t === t);
    return '<div data-series="' + esc(s.name) + '">' + swatch(s.color) + esc(s.name) + ': <b>' + (p && p.v !== null ? esc(c.spec.format(p.v, p)) : 'no data') + '</b></div>';
  });
  tip.innerHTML = '<div>' + esc(stamp(t)) + '</div>' + rows.join('');
  tip.dataset.at = String(t);
  tip.hidden = false;
  const box = svg.getBoundingClientRect(), host = svg.parentElement.getBoundingClientRect();
  const px = box.left - host.left + (c.x(t) / c.W) * box.width;
  tip.style.top = (box.top - host.top + 8) + 'px';
  tip.style.left = Math.max(4, Math.min(px + 12, host.width - tip.offsetWidth - 4)) + 'px';
}
function hideTip(id) {
  const svg = $(id), c = charts[id];
  if (c) c.index = undefined;
  svg.parentElement.querySelector('.tip').hidden = true;
  const cursor = svg.querySelector('.cursor');
  if (cursor) cursor.setAttribute('visibility', 'hidden');
}
function nearest(id, clientX) {
  const c = charts[id], box = $(id).getBoundingClientRect();
  if (!c || !c.times.length) return -1;
  const vx = ((clientX - box.left) / box.width) * c.W;
  let best = 0;
  for (let i = 1; i < c.times.length; i++) if (Math.abs(c.x(c.times[i]) - vx) < Math.abs(c.x(c.times[best]) - vx)) best = i;
  return best;
}
for (const id of ['hit-rate-chart', 'latency-chart', 'savings-chart']) {
  const svg = $(id);
  svg.addEventListener('pointermove', (e) => showTip(id, nearest(id, e.clientX)));
  svg.addEventListener('pointerleave', () => hideTip(id));
  svg.addEventListener('blur', () => hideTip(id));
  svg.addEventListener('keydown', (e) => {
    const c = charts[id];
    if (!c || !c.times.length) return;
    const last = c.times.length - 1, at = c.index === undefined ? last : c.index;
    const next = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: last }[e.key];
    if (e.key === 'Escape') return hideTip(id);
    if (next === undefined) return;
    e.preventDefault();
    showTip(id, Math.max(0, Math.min(last, next)));
  });
}

function histogram(tier, h, color, W) {
  const total = h.counts.reduce((a, b) => a + b, 0);
  const x = (v) => L + ((v - h.from) / (1 - h.from)) * (W - L - R);
  const yTicks = linearTicks(Math.max(1, ...h.counts)), top = yTicks[yTicks.length - 1];
  const y = (v) => H - B - (v / top) * (H - T - B);
  let out = '';
  for (const v of yTicks) out += '<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + y(v).toFixed(1) + '" y2="' + y(v).toFixed(1) + '"/><text class="y-tick" x="' + (L - 6) + '" y="' + (y(v) + 4).toFixed(1) + '" text-anchor="end">' + esc(fmtTick(v)) + '</text>';
  for (let v = h.from; v <= 1.0001; v += 0.1) out += '<text class="x-tick" x="' + x(v).toFixed(1) + '" y="' + (H - B + 16) + '" text-anchor="middle">' + v.toFixed(1) + '</text>';
  h.counts.forEach((n, i) => {
    if (!n) return;
    const lo = h.from + i * h.bin;
    out += '<rect data-bin="' + lo.toFixed(2) + '" x="' + (x(lo) + 1).toFixed(1) + '" width="' + (x(lo + h.bin) - x(lo) - 2).toFixed(1) + '" y="' + y(n).toFixed(1) + '" height="' + (H - B - y(n)).toFixed(1) + '" style="fill:' + color + '"><title>' + (i === 0 ? 'below ' + (lo + h.bin).toFixed(2) : lo.toFixed(2) + '-' + (lo + h.bin).toFixed(2)) + ': ' + n + ' hits</title></rect>';
  });
  out += '<line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '"/><line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '"/>';
  out += '<text class="axis-title x-title" x="' + ((L + W - R) / 2) + '" y="' + (H - 6) + '" text-anchor="middle">similarity of the hit to its question (cosine)</text>';
  out += '<text class="axis-title y-title" transform="translate(14 ' + ((T + H - B) / 2) + ') rotate(-90)" text-anchor="middle">hits</text>';
  return '<svg class="chart histogram" data-tier="' + esc(tier) + '" viewBox="0 0 ' + W + ' ' + H + '" role="img" aria-label="' + esc(tier) + ': similarity of ' + total + ' hits">' + out + '</svg>';
}

function semanticPanel(panels) {
  if (!panels.semantic.length) return '<p class="empty">no similarity tier</p>';
  return panels.semantic.map((s) => {
    const color = tierColor[s.tier] || ALL_COLOR;
    const refusals = Object.entries(s.refusals).sort((a, b) => b[1] - a[1]);
    return '<h3 style="font-size:13px;margin:4px 0">' + swatch(color) + esc(s.tier) + '</h3>' +
      (s.similarity ? histogram(s.tier, s.similarity, color, widthOf($('semantic'))) : '<p class="empty">no similarity hit yet (or the tier does not report similarity)</p>') +
      '<table class="refusals" data-tier="' + esc(s.tier) + '"><thead><tr><th>refused by</th><th class="n">lookups</th></tr></thead><tbody>' +
      (refusals.length ? refusals.map(([guard, n]) => '<tr><td>' + esc(guard) + '</td><td class="n">' + num(n) + '</td></tr>').join('') : '<tr><td class="empty" colspan="2">no refusals</td></tr>') +
      '</tbody></table>';
  }).join('');
}

// Top tables: the 10 first rows by the column chosen (lookups at first), highest first.
const sortKey = { namespaces: 'lookups', models: 'lookups' };
const lastRows = { namespaces: [], models: [] };
const rank = (v) => (v === null || v === undefined ? -1 : v);
function showTop(table, rows) {
  lastRows[table] = rows;
  const key = sortKey[table];
  const top = [...rows].sort((a, b) => rank(b[key]) - rank(a[key]) || rank(b.hits) - rank(a.hits) || String(a.name).localeCompare(String(b.name))).slice(0, 10);
  document.querySelector('#' + table + ' tbody').innerHTML = usageRows(top);
  for (const th of document.querySelectorAll('#' + table + ' th[aria-sort]')) th.setAttribute('aria-sort', th.querySelector('button').dataset.sort === key ? 'descending' : 'none');
}
for (const table of ['namespaces', 'models']) {
  for (const button of document.querySelectorAll('#' + table + ' button.sort')) {
    button.addEventListener('click', () => { sortKey[table] = button.dataset.sort; showTop(table, lastRows[table]); });
  }
}
const usageRows = (rows) => rows.length ? rows.map((r) => '<tr><td>' + (r.name === '' ? '<span class="empty">(default)</span>' : esc(r.name)) + '</td><td class="n">' + (r.lookups === null ? '-' : num(r.lookups)) + '</td><td class="n">' + (r.hitRate === null ? num(r.hits) + ' hits' : pct(r.hitRate)) + '</td><td class="n">' + num(r.savedTokens) + '</td><td class="n">' + usd(r.savedCost) + '</td></tr>').join('') : '<tr><td class="empty" colspan="5">no lookups yet</td></tr>';
const savedIn = (series) => series.points.reduce((n, p) => { for (const s of Object.values(p.savings)) { n.tokens += s.tokens; n.cost += s.cost; } return n; }, { tokens: 0, cost: 0 });

async function refresh() {
  const [{ stats, savings, fleet, processes }, alerts, series, day, week, panels] = await Promise.all([
    get('/api/stats?by=process'), get('/api/alerts'), get('/api/series?range=' + range), get('/api/series?range=24h'), get('/api/series?range=7d'), get('/api/panels'),
  ]);
  const now = Date.now();
  tierColor = {};
  stats.tiers.forEach((t, i) => { tierColor[t.name] = TIER_COLORS[i % TIER_COLORS.length]; });
  text('scope', fleet ? 'all ' + processes.length + ' processes' : 'this process');
  text('lookups', num(stats.lookups));
  text('hit-rate', stats.lookups === 0 ? '-' : pct(stats.hitRate));
  text('saved-tokens', num(savings.tokens));
  text('saved-cost', usd(savings.cost));
  // Savings are placed in time from the monitor's samples (and, in fleet mode, the buckets an
  // earlier monitor kept): what the fleet saved before that is in the totals but in no range, so
  // a range longer than the history says so.
  const d = savedIn(day), w = savedIn(week);
  const life = now - day.startedAt;
  const since = 'saved since the history began (' + ago(life) + ' ago)';
  text('saved-day-label', life < 86400000 ? since : 'saved, last 24 h');
  text('saved-week-label', life < 7 * 86400000 ? since : 'saved, last 7 d');
  $('saved-week').parentElement.hidden = life < 86400000;
  text('saved-day', num(d.tokens) + ' tok · ' + usd(d.cost));
  text('saved-week', num(w.tokens) + ' tok · ' + usd(w.cost));

  const health = {};
  for (const h of panels.health) health[h.name] = h;
  document.querySelector('#tiers tbody').innerHTML = stats.tiers.map((t) => {
    const h = health[t.name] || { status: t.breaker === 'open' ? 'down' : 'up', since: now, sinceStart: true };
    const since = h.sinceStart ? 'start (' + ago(now - h.since) + ')' : stamp(h.since) + ' (' + ago(now - h.since) + ')';
    return '<tr data-tier="' + esc(t.name) + '"><td>' + swatch(tierColor[t.name]) + esc(t.name) + '</td><td class="' + esc(h.status) + '">' + esc(h.status) + (h.reason ? ': ' + esc(h.reason) : '') + '</td><td>' + esc(since) + '</td><td class="n">' + num(t.hits) + '</td><td class="n">' + num(t.misses) + '</td><td class="n">' + (t.store ? num(t.store.entries) : '?') + '</td><td class="n">' + t.get.p99Ms.toFixed(2) + '</td></tr>';
  }).join('');

  const pts = series.points;
  // A monitor younger than the range shows what it has, from its first point, not an empty axis.
  const first = pts.find((p) => p.source !== 'daily');
  const from = pts.length && pts[0].source === 'daily' ? series.from : Math.max(series.from, series.startedAt);
  const xTitle = from > series.from ? 'time (local), since the history began' : 'time (local)';
  const tierSeries = (f) => stats.tiers.map((t) => ({ name: t.name, color: tierColor[t.name], values: pts.map((p) => ({ t: p.at, v: p.tiers[t.name] ? f(p.tiers[t.name], p) : null, daily: p.source === 'daily' })) }));
  lineChart('hit-rate-chart', {
    from, to: series.to, yMax: 100, xTitle, yTitle: 'hit rate (%)',
    series: [{ name: 'all', color: ALL_COLOR, values: pts.map((p) => ({ t: p.at, v: p.hitRate === null ? null : p.hitRate * 100 })) }]
      .concat(tierSeries((t) => (t.hits + t.misses > 0 ? (t.hits / (t.hits + t.misses)) * 100 : null))),
    format: (v) => v.toFixed(1) + '%',
  });
  lineChart('latency-chart', {
    from, to: series.to, log: true, xTitle, yTitle: 'p99 latency (ms, log scale)',
    series: tierSeries((t) => t.p99Ms),
    format: (v, p) => (v < 1 ? v.toFixed(3) : v.toFixed(2)) + ' ms' + (p.daily ? ' (daily mean)' : ''),
  });
  const models = [...new Set(pts.flatMap((p) => Object.keys(p.savings)))].sort();
  lineChart('savings-chart', {
    from, to: series.to, xTitle, yTitle: 'tokens saved per ' + duration(first ? first.spanMs : 5000),
    series: models.map((m, i) => ({ name: m, color: MODEL_COLORS[i % MODEL_COLORS.length], values: pts.filter((p) => p.source !== 'daily').map((p) => ({ t: p.at, v: p.savings[m] ? p.savings[m].tokens : 0, cost: p.savings[m] ? p.savings[m].cost : 0 })) })),
    format: (v, p) => num(v) + ' tokens, ' + usd(p.cost),
  });
  $('semantic').innerHTML = semanticPanel(panels);
  showTop('namespaces', panels.namespaces);
  // In a fleet, the serving process has few lookups of its own: models come from the fleet's savings.
  const fleetModels = savings.models.map((m) => ({ name: m.model, lookups: null, hits: m.hits, hitRate: null, savedTokens: m.inputTokens + m.outputTokens, savedCost: m.cost }));
  showTop('models', fleet ? fleetModels : panels.models);
  for (const note of document.querySelectorAll('.note')) note.hidden = !fleet;

  $('alerts-active').innerHTML = alerts.active.length === 0 ? 'none firing' : alerts.active.map((a) => '<div class="firing">' + esc(a.message) + ' (since ' + esc(stamp(a.firedAt)) + ')</div>').join('');
  // The alert log holds a firing event and later its resolution: one row per incident (id, firedAt).
  const incidents = new Map();
  for (const a of alerts.recent) {
    const id = a.id + '@' + a.firedAt, known = incidents.get(id);
    if (!known || a.state === 'resolved') incidents.set(id, a);
  }
  document.querySelector('#alerts-recent tbody').innerHTML = [...incidents.values()].sort((a, b) => b.firedAt - a.firedAt).slice(0, 10).map((a) => '<tr><td class="' + a.state + '">' + a.state + '</td><td>' + esc(a.message.replace(/^resolved: /, '')) + '</td><td>' + esc(stamp(a.firedAt)) + '</td><td>' + (a.resolvedAt ? esc(stamp(a.resolvedAt)) : '-') + '</td><td class="n">' + esc(ago((a.resolvedAt || now) - a.firedAt)) + '</td></tr>').join('') || '<tr><td class="empty" colspan="5">no alerts</td></tr>';
  text('updated-at', 'updated ' + new Date().toLocaleTimeString());
  text('error', '');
}

for (const button of document.querySelectorAll('.ranges button')) {
  button.addEventListener('click', () => {
    range = button.dataset.range;
    for (const b of document.querySelectorAll('.ranges button')) b.setAttribute('aria-pressed', String(b === button));
    refresh().catch((e) => text('error', e.message));
  });
}
function loop() { refresh().catch((e) => text('error', e.message)).finally(() => setTimeout(loop, 2000)); }
loop();
</script>
</body>
</html>
`;
