/**
 * The dashboard `strata serve` shows at /: one self-contained page (no external scripts, fonts
 * or styles; it works offline) that polls the API every two seconds and draws per-tier hit rate
 * and p99 latency over time as SVG lines, with savings, entries and alerts beside them.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Strata cache</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2733; }
  header { background: #1d2733; color: #fff; padding: 10px 20px; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 20px; }
  section { background: #fff; border-radius: 6px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; }
  h2 { font-size: 14px; margin: 0 0 8px; color: #52606d; text-transform: uppercase; letter-spacing: .04em; }
  .big { font-size: 28px; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eef0f3; }
  td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
  svg { width: 100%; height: 160px; background: #fbfcfd; }
  .legend span { margin-right: 12px; }
  .firing { color: #b42318; font-weight: 600; }
  .resolved { color: #067647; }
  #error { color: #b42318; }
</style>
</head>
<body>
<header><h1>Strata cache</h1><span id="scope"></span><span id="updated-at">connecting...</span><span id="error"></span></header>
<main>
  <section><h2>Hit rate over time</h2><svg id="hit-rate-chart" viewBox="0 0 400 160" preserveAspectRatio="none"></svg><div class="legend" id="hit-rate-legend"></div></section>
  <section><h2>p99 latency over time (ms)</h2><svg id="latency-chart" viewBox="0 0 400 160" preserveAspectRatio="none"></svg><div class="legend" id="latency-legend"></div></section>
  <section><h2>Overall</h2>
    <div>lookups <span class="big" id="lookups">-</span> hit rate <span class="big" id="hit-rate">-</span></div>
    <div>saved tokens <span class="big" id="saved-tokens">-</span> saved <span class="big" id="saved-cost">-</span></div>
  </section>
  <section><h2>Tiers</h2><table id="tiers"><thead><tr><th>tier</th><th>breaker</th><th class="n">hits</th><th class="n">misses</th><th class="n">entries</th><th class="n">p99 ms</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Alerts</h2><div id="alerts-active">none firing</div><h2 style="margin-top:12px">Recent</h2><table id="alerts-recent"><tbody></tbody></table></section>
</main>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token');
const headers = token ? { authorization: 'Bearer ' + token } : {};
const COLORS = ['#2e90fa', '#f79009', '#12b76a', '#9e77ed', '#f04438', '#667085'];
const get = (path) => fetch(path, { headers }).then((r) => { if (!r.ok) throw new Error(path + ': HTTP ' + r.status); return r.json(); });
const text = (id, value) => { document.getElementById(id).textContent = value; };
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function chart(id, legendId, series, max) {
  const svg = document.getElementById(id);
  const names = Object.keys(series);
  const top = max ?? Math.max(1e-9, ...names.flatMap((n) => series[n].filter((v) => v !== null)));
  svg.innerHTML = names.map((name, i) => {
    const values = series[name];
    const step = 400 / Math.max(1, values.length - 1);
    const d = values.map((v, j) => v === null ? '' : (j === 0 || values[j - 1] === null ? 'M' : 'L') + (j * step).toFixed(1) + ' ' + (155 - (v / top) * 150).toFixed(1)).join(' ');
    return '<path data-series="' + esc(name) + '" d="' + d + '" fill="none" stroke="' + COLORS[i % COLORS.length] + '" stroke-width="2"/>';
  }).join('');
  document.getElementById(legendId).innerHTML = names.map((n, i) => '<span style="color:' + COLORS[i % COLORS.length] + '">&#9632; ' + esc(n) + '</span>').join('') + (max ? '' : '<span>max ' + top.toFixed(2) + '</span>');
}

async function refresh() {
  const [{ stats, savings, fleet, processes }, alerts, series] = await Promise.all([get('/api/stats?by=process'), get('/api/alerts'), get('/api/series')]);
  text('scope', fleet ? 'all ' + processes.length + ' processes' : 'this process');
  text('lookups', stats.lookups.toLocaleString());
  text('hit-rate', (stats.hitRate * 100).toFixed(1) + '%');
  text('saved-tokens', savings.tokens.toLocaleString());
  text('saved-cost', '$' + savings.cost.toFixed(4));
  document.querySelector('#tiers tbody').innerHTML = stats.tiers.map((t) => '<tr data-tier="' + esc(t.name) + '"><td>' + esc(t.name) + '</td><td>' + esc(t.breaker) + '</td><td class="n">' + t.hits + '</td><td class="n">' + t.misses + '</td><td class="n">' + (t.store ? t.store.entries : '?') + '</td><td class="n">' + t.get.p99Ms.toFixed(2) + '</td></tr>').join('');
  const hitRate = { all: series.map((p) => p.hitRate) };
  const latency = {};
  for (const t of stats.tiers) {
    hitRate[t.name] = series.map((p) => { const s = p.tiers[t.name]; return s && s.hits + s.misses > 0 ? s.hits / (s.hits + s.misses) : null; });
    latency[t.name] = series.map((p) => (p.tiers[t.name] ? p.tiers[t.name].p99Ms : null));
  }
  chart('hit-rate-chart', 'hit-rate-legend', hitRate, 1);
  chart('latency-chart', 'latency-legend', latency);
  document.getElementById('alerts-active').innerHTML = alerts.active.length === 0 ? 'none firing' : alerts.active.map((a) => '<div class="firing">' + esc(a.message) + '</div>').join('');
  document.querySelector('#alerts-recent tbody').innerHTML = alerts.recent.slice(0, 10).map((a) => '<tr><td class="' + a.state + '">' + a.state + '</td><td>' + esc(a.message) + '</td><td>' + new Date(a.resolvedAt ?? a.firedAt).toLocaleTimeString() + '</td></tr>').join('');
  text('updated-at', 'updated ' + new Date().toLocaleTimeString());
  text('error', '');
}
function loop() { refresh().catch((e) => text('error', e.message)).finally(() => setTimeout(loop, 2000)); }
loop();
</script>
</body>
</html>
`;
