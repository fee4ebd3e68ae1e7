/**
 * The dashboard's main loop: every two seconds it reads the monitor's API and redraws the page; the
 * range buttons pick the range of the charts.
 *
 * A tier keeps one colour everywhere (charts, legends, the health table): its position in the config
 * picks it from TIER_COLORS. Models use their own palette, so they are never mistaken for tiers.
 * Light and dark follow prefers-color-scheme (style.css).
 */

/** What the points of a series saved in all: tokens and USD. */
const savedIn = (series: SeriesReply) =>
  series.points.reduce(
    (n, p) => {
      for (const s of Object.values(p.savings)) {
        n.tokens += s.tokens;
        n.cost += s.cost;
      }
      return n;
    },
    { tokens: 0, cost: 0 },
  );

async function refresh() {
  const [{ stats, savings, fleet, processes }, alerts, series, day, week, panels] = await Promise.all([
    get<StatsReply>('/api/stats?by=process'),
    get<AlertsReply>('/api/alerts'),
    get<SeriesReply>(`/api/series?range=${shown.range}`),
    get<SeriesReply>('/api/series?range=24h'),
    get<SeriesReply>('/api/series?range=7d'),
    get<PanelsReply>('/api/panels'),
  ]);
  const now = Date.now();
  shown.tierColor = {};
  stats.tiers.forEach((t, i) => {
    shown.tierColor[t.name] = TIER_COLORS[i % TIER_COLORS.length]!;
  });
  text('scope', fleet ? `all ${processes?.length} processes` : 'this process');
  text('lookups', num(stats.lookups));
  text('hit-rate', stats.lookups === 0 ? '-' : pct(stats.hitRate));
  text('stale', num(stats.stale ?? 0));
  text('saved-tokens', num(savings.tokens));
  text('saved-cost', usd(savings.cost));
  // Savings are placed in time from the monitor's samples (and, in fleet mode, the buckets an
  // earlier monitor kept): what the fleet saved before that is in the totals but in no range, so
  // a range longer than the history says so.
  const d = savedIn(day);
  const w = savedIn(week);
  const life = now - day.startedAt;
  const since = `saved since the history began (${ago(life)} ago)`;
  text('saved-day-label', life < DAY ? since : 'saved, last 24 h');
  text('saved-week-label', life < 7 * DAY ? since : 'saved, last 7 d');
  $('saved-week').parentElement!.hidden = life < DAY;
  text('saved-day', `${num(d.tokens)} tok · ${usd(d.cost)}`);
  text('saved-week', `${num(w.tokens)} tok · ${usd(w.cost)}`);

  const health: Record<string, TierHealth> = {};
  for (const h of panels.health) health[h.name] = h;
  document.querySelector('#tiers tbody')!.innerHTML = stats.tiers
    .map((t) => tierRow(t, health, now))
    .join('');

  const pts = series.points;
  // A monitor younger than the range shows what it has, from its first point, not an empty axis.
  const first = pts.find((p) => p.source !== 'daily');
  const from = pts[0]?.source === 'daily' ? series.from : Math.max(series.from, series.startedAt);
  const xTitle = from > series.from ? 'time (local), since the history began' : 'time (local)';
  const tierSeries = (f: (t: SeriesPoint['tiers'][string]) => number | null): ChartSeries[] =>
    stats.tiers.map((t) => ({
      name: t.name,
      color: colorOf(t.name),
      values: pts.map((p) => {
        const point = p.tiers[t.name];
        return { t: p.at, v: point ? f(point) : null, daily: p.source === 'daily' };
      }),
    }));
  lineChart('hit-rate-chart', {
    from,
    to: series.to,
    yMax: 100,
    xTitle,
    yTitle: 'hit rate (%)',
    series: [
      {
        name: 'all',
        color: ALL_COLOR,
        values: pts.map((p) => ({ t: p.at, v: p.hitRate === null ? null : p.hitRate * 100 })),
      },
      ...tierSeries((t) => (t.hits + t.misses > 0 ? (t.hits / (t.hits + t.misses)) * 100 : null)),
    ],
    format: (v) => `${v.toFixed(1)}%`,
  });
  lineChart('latency-chart', {
    from,
    to: series.to,
    log: true,
    xTitle,
    yTitle: 'p99 latency (ms, log scale)',
    series: tierSeries((t) => t.p99Ms),
    format: (v, p) => `${v < 1 ? v.toFixed(3) : v.toFixed(2)} ms${p.daily ? ' (daily mean)' : ''}`,
  });
  const models = [...new Set(pts.flatMap((p) => Object.keys(p.savings)))].sort();
  lineChart('savings-chart', {
    from,
    to: series.to,
    xTitle,
    yTitle: `tokens saved per ${duration(first ? first.spanMs : 5000)}`,
    series: models.map((m, i) => ({
      name: m,
      color: MODEL_COLORS[i % MODEL_COLORS.length]!,
      values: pts
        .filter((p) => p.source !== 'daily')
        .map((p) => ({ t: p.at, v: p.savings[m]?.tokens ?? 0, cost: p.savings[m]?.cost ?? 0 })),
    })),
    format: (v, p) => `${num(v)} tokens, ${usd(p.cost ?? 0)}`,
  });
  $('semantic').innerHTML = semanticPanel(panels);
  showTop('namespaces', panels.namespaces);
  // In a fleet, the serving process has few lookups of its own: models come from the fleet's savings.
  const fleetModels = savings.models.map((m) => ({
    name: m.model,
    lookups: null,
    hits: m.hits,
    hitRate: null,
    savedTokens: m.inputTokens + m.outputTokens,
    savedCost: m.cost,
  }));
  showTop('models', fleet ? fleetModels : panels.models);
  for (const note of document.querySelectorAll<HTMLElement>('.note')) note.hidden = !fleet;
  // Processes of an older version report no namespaces or matching: say how many do.
  const f = panels.fleet;
  const partial =
    f && f.reporting < f.processes ? `: ${f.reporting} of ${f.processes} processes report them` : '';
  for (const span of document.querySelectorAll<HTMLElement>('.note .partial')) span.textContent = partial;

  $('alerts-active').innerHTML =
    alerts.active.length === 0
      ? 'none firing'
      : alerts.active
          .map((a) => `<div class="firing">${esc(a.message)} (since ${esc(stamp(a.firedAt))})</div>`)
          .join('');
  document.querySelector('#alerts-recent tbody')!.innerHTML = alertRows(alerts, now);
  text('updated-at', `updated ${new Date().toLocaleTimeString()}`);
  text('error', '');
}

for (const button of document.querySelectorAll<HTMLButtonElement>('.ranges button')) {
  button.addEventListener('click', () => {
    shown.range = button.dataset.range ?? shown.range;
    for (const b of document.querySelectorAll('.ranges button'))
      b.setAttribute('aria-pressed', String(b === button));
    refresh().catch((e: unknown) => text('error', messageOf(e)));
  });
}
function loop() {
  refresh()
    .catch((e: unknown) => text('error', messageOf(e)))
    .finally(() => setTimeout(loop, 2000));
}
loop();
