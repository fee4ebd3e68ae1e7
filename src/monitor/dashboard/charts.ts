/**
 * Charts are drawn as SVG by the page's own script, not a charting library: they stay text in the
 * DOM (axis labels, legends and the hover read-out can be read by a screen reader, a test or a search
 * in the page), they need no canvas or styles outside style.css, and the whole page is smaller than
 * uPlot alone. Every chart has a time axis, a labelled y axis with its unit and a read-out of the
 * exact values under the pointer (or the arrow keys, once the chart has focus).
 */

/** One point of a chart's series; `v: null` leaves a gap. */
interface Point {
  t: number;
  v: number | null;
  daily?: boolean;
  cost?: number;
}
interface ChartSeries {
  name: string;
  color: string;
  values: Point[];
}
interface ChartSpec {
  from: number;
  to: number;
  xTitle: string;
  yTitle: string;
  /** A fixed top of a linear y axis (from 0); without it the axis fits the data. */
  yMax?: number;
  log?: boolean;
  series: ChartSeries[];
  format: (v: number, p: Point) => string;
}
interface Chart {
  spec: ChartSpec;
  x: (t: number) => number;
  W: number;
  times: number[];
  /** Which time the read-out shows, while it shows. */
  index: number | undefined;
}

// Charts are drawn at their on-screen width (viewBox = CSS pixels), so text keeps its size in a narrow
// window.
const H = 240;
const L = 56;
const R = 14;
const T = 12;
const B = 44;
const widthOf = (el: Element) => Math.max(300, Math.round(el.getBoundingClientRect().width) || 600);
const charts: Record<string, Chart> = {};

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, 10800, 21600, 43200, 86400].map(
  (s) => s * 1000,
);
/** Time ticks at the smallest round step that gives at most `most`; labelled by day, minute or second. */
function timeTicks(from: number, to: number, most: number) {
  const step = STEPS.find((s) => (to - from) / s <= most) ?? DAY;
  // Steps of an hour or more fall on local hours and midnights, not UTC ones.
  const offset = step >= HOUR ? new Date(from).getTimezoneOffset() * MINUTE : 0;
  const ticks: number[] = [];
  for (let t = Math.ceil((from - offset) / step) * step + offset; t <= to; t += step) ticks.push(t);
  return { ticks, label: step >= DAY ? dayName : step < MINUTE ? clockSeconds : clock };
}

/** Up to six round values from 0 to at least max. */
function linearTicks(max: number) {
  const top = max > 0 ? max : 1;
  const raw = top / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v <= top + step * 1e-9; v += step) ticks.push(v);
  const last = ticks[ticks.length - 1]!;
  if (last < top) ticks.push(last + step);
  return ticks;
}

/** Decades covering [min, max] (log scale). */
function logTicks(min: number, max: number) {
  const lo = Math.floor(Math.log10(Math.max(min, 1e-4)));
  let hi = Math.ceil(Math.log10(Math.max(max, 1e-4)));
  if (hi <= lo) hi = lo + 1;
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  return ticks;
}

const fmtTick = (v: number) =>
  v >= 1000 ? `${v / 1000}k` : v >= 1 ? String(+v.toFixed(2)) : String(+v.toPrecision(1));

/** The y grid with its labels and the two axes, shared by the line charts and the histogram. */
function frame(W: number, yTicks: number[], y: (v: number) => number) {
  let out = '';
  for (const v of yTicks) {
    const at = y(v).toFixed(1);
    out += `<line class="grid" x1="${L}" x2="${W - R}" y1="${at}" y2="${at}"/>`;
    out += `<text class="y-tick" x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">`;
    out += `${esc(fmtTick(v))}</text>`;
  }
  return out;
}
function axes(W: number, xTitle: string, yTitle: string) {
  let out = `<line class="axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"/>`;
  out += `<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${H - B}"/>`;
  out += `<text class="axis-title x-title" x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">`;
  out += `${esc(xTitle)}</text>`;
  out += `<text class="axis-title y-title" transform="translate(14 ${(T + H - B) / 2}) rotate(-90)"`;
  out += ` text-anchor="middle">${esc(yTitle)}</text>`;
  return out;
}

/**
 * One line chart: series [{ name, color, values: [{ t, v }] }] over [from, to]; y in `unit`,
 * linear from 0 (or fixed 0..yMax) or log. Points with v === null leave a gap.
 */
function lineChart(id: string, spec: ChartSpec) {
  const svg = svgOf(id);
  const W = widthOf(svg);
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const values = spec.series.flatMap((s) => s.values.flatMap((p) => (p.v === null ? [] : [p.v])));
  const x = (t: number) => L + ((t - spec.from) / (spec.to - spec.from)) * (W - L - R);
  let yTicks: number[];
  let y: (v: number) => number;
  if (spec.log) {
    const positive = values.filter((v) => v > 0);
    const ticks = logTicks(
      positive.length ? Math.min(...positive) : 0.01,
      positive.length ? Math.max(...positive) : 1,
    );
    const lo = Math.log10(ticks[0]!);
    const hi = Math.log10(ticks[ticks.length - 1]!);
    yTicks = ticks;
    y = (v) => H - B - ((Math.log10(Math.max(v, ticks[0]!)) - lo) / (hi - lo)) * (H - T - B);
  } else {
    const ticks = linearTicks(spec.yMax ?? (values.length ? Math.max(...values) : 0));
    const top = ticks[ticks.length - 1]!;
    yTicks = ticks;
    y = (v) => H - B - (v / top) * (H - T - B);
  }
  const time = timeTicks(spec.from, spec.to, Math.max(2, Math.min(8, Math.floor((W - L - R) / 75))));
  let out = frame(W, yTicks, y);
  for (const t of time.ticks) {
    const at = x(t).toFixed(1);
    out += `<line class="axis" x1="${at}" x2="${at}" y1="${H - B}" y2="${H - B + 4}"/>`;
    out += `<text class="x-tick" x="${at}" y="${H - B + 16}" text-anchor="middle">`;
    out += `${esc(time.label(t))}</text>`;
  }
  out += axes(W, spec.xTitle, spec.yTitle);
  for (const s of spec.series) {
    let d = '';
    let open = false;
    for (const p of s.values) {
      if (p.v === null) {
        open = false;
        continue;
      }
      d += `${open ? 'L' : 'M'}${x(p.t).toFixed(1)} ${y(p.v).toFixed(1)} `;
      open = true;
    }
    const name = esc(s.name);
    out += `<path data-series="${name}" d="${d.trim()}" fill="none" style="stroke:${s.color}"`;
    out += ' stroke-width="2" stroke-linejoin="round"/>';
    // A lone point (one sample, or one between gaps) is drawn as a dot so it can be seen.
    s.values.forEach((p, i) => {
      const before = s.values[i - 1];
      const after = s.values[i + 1];
      if (p.v === null || (before && before.v !== null) || (after && after.v !== null)) return;
      out += `<circle data-series="${name}" cx="${x(p.t).toFixed(1)}" cy="${y(p.v).toFixed(1)}" r="2.5"`;
      out += ` style="fill:${s.color}"/>`;
    });
  }
  out += `<line class="cursor" x1="0" x2="0" y1="${T}" y2="${H - B}" visibility="hidden"/>`;
  svg.innerHTML = out;
  svg.dataset.range = shown.range;
  $(id.replace('-chart', '-legend')).innerHTML =
    spec.series
      .map((s) => `<span data-series="${esc(s.name)}">${swatch(s.color)}${esc(s.name)}</span>`)
      .join('') || '<span class="empty">no data in this range</span>';
  const times = [...new Set(spec.series.flatMap((s) => s.values.map((p) => p.t)))].sort((a, b) => a - b);
  const index = charts[id]?.index;
  charts[id] = { spec, x, W, times, index };
  if (index !== undefined) showTip(id, Math.min(index, times.length - 1));
}

/** The read-out: every series' exact value at the time nearest the pointer. */
function showTip(id: string, index: number): void {
  const c = charts[id];
  const svg = svgOf(id);
  const tip = tipOf(svg);
  const t = c?.times[index];
  if (!c || t === undefined) {
    hideTip(id);
    return;
  }
  c.index = index;
  const cursor = svg.querySelector('.cursor')!;
  cursor.setAttribute('x1', String(c.x(t)));
  cursor.setAttribute('x2', String(c.x(t)));
  cursor.setAttribute('visibility', 'visible');
  const rows = c.spec.series.map((s) => {
    const p = s.values.find((q) => q.t === t);
    const value = p && p.v !== null ? esc(c.spec.format(p.v, p)) : 'no data';
    return `<div data-series="${esc(s.name)}">${swatch(s.color)}${esc(s.name)}: <b>${value}</b></div>`;
  });
  tip.innerHTML = `<div>${esc(stamp(t))}</div>${rows.join('')}`;
  tip.dataset.at = String(t);
  tip.hidden = false;
  const box = svg.getBoundingClientRect();
  const host = svg.parentElement!.getBoundingClientRect();
  const px = box.left - host.left + (c.x(t) / c.W) * box.width;
  tip.style.top = `${box.top - host.top + 8}px`;
  tip.style.left = `${Math.max(4, Math.min(px + 12, host.width - tip.offsetWidth - 4))}px`;
}
function hideTip(id: string) {
  const svg = svgOf(id);
  const c = charts[id];
  if (c) c.index = undefined;
  tipOf(svg).hidden = true;
  svg.querySelector('.cursor')?.setAttribute('visibility', 'hidden');
}
function nearest(id: string, clientX: number) {
  const c = charts[id];
  const box = svgOf(id).getBoundingClientRect();
  if (!c?.times.length) return -1;
  const vx = ((clientX - box.left) / box.width) * c.W;
  const gap = (i: number) => Math.abs(c.x(c.times[i]!) - vx);
  let best = 0;
  for (let i = 1; i < c.times.length; i++) if (gap(i) < gap(best)) best = i;
  return best;
}
for (const id of ['hit-rate-chart', 'latency-chart', 'savings-chart']) {
  const svg = svgOf(id);
  svg.addEventListener('pointermove', (e) => showTip(id, nearest(id, e.clientX)));
  svg.addEventListener('pointerleave', () => hideTip(id));
  svg.addEventListener('blur', () => hideTip(id));
  svg.addEventListener('keydown', (e) => {
    const c = charts[id];
    if (!c?.times.length) return;
    const last = c.times.length - 1;
    const at = c.index ?? last;
    const moves: Record<string, number | undefined> = {
      ArrowLeft: at - 1,
      ArrowRight: at + 1,
      Home: 0,
      End: last,
    };
    const next = moves[e.key];
    if (e.key === 'Escape') return hideTip(id);
    if (next === undefined) return;
    e.preventDefault();
    showTip(id, Math.max(0, Math.min(last, next)));
  });
}

function histogram(tier: string, h: Similarity, color: string, W: number) {
  const total = h.counts.reduce((a, b) => a + b, 0);
  const x = (v: number) => L + ((v - h.from) / (1 - h.from)) * (W - L - R);
  const yTicks = linearTicks(Math.max(1, ...h.counts));
  const top = yTicks[yTicks.length - 1]!;
  const y = (v: number) => H - B - (v / top) * (H - T - B);
  let out = frame(W, yTicks, y);
  for (let v = h.from; v <= 1.0001; v += 0.1) {
    out += `<text class="x-tick" x="${x(v).toFixed(1)}" y="${H - B + 16}" text-anchor="middle">`;
    out += `${v.toFixed(1)}</text>`;
  }
  h.counts.forEach((n, i) => {
    if (!n) return;
    const lo = h.from + i * h.bin;
    const hi = lo + h.bin;
    const label = i === 0 ? `below ${hi.toFixed(2)}` : `${lo.toFixed(2)}-${hi.toFixed(2)}`;
    out += `<rect data-bin="${lo.toFixed(2)}" x="${(x(lo) + 1).toFixed(1)}"`;
    out += ` width="${(x(hi) - x(lo) - 2).toFixed(1)}"`;
    out += ` y="${y(n).toFixed(1)}" height="${(H - B - y(n)).toFixed(1)}" style="fill:${color}">`;
    out += `<title>${label}: ${n} hits</title></rect>`;
  });
  out += axes(W, 'similarity of the hit to its question (cosine)', 'hits');
  const label = `${esc(tier)}: similarity of ${total} hits`;
  return (
    `<svg class="chart histogram" data-tier="${esc(tier)}" viewBox="0 0 ${W} ${H}" role="img"` +
    ` aria-label="${label}">${out}</svg>`
  );
}
