/**
 * The panels that are tables: tier health, the top namespaces and models (sortable), the semantic
 * tiers (histogram and refusals) and the alert log.
 */

function semanticPanel(panels: PanelsReply) {
  if (!panels.semantic.length) return '<p class="empty">no similarity tier</p>';
  return panels.semantic
    .map((s) => {
      const color = colorOf(s.tier);
      const refusals = Object.entries(s.refusals).sort((a, b) => b[1] - a[1]);
      const chart = s.similarity
        ? histogram(s.tier, s.similarity, color, widthOf($('semantic')))
        : '<p class="empty">no similarity hit yet (or the tier does not report similarity)</p>';
      const rows = refusals.length
        ? refusals.map(([guard, n]) => `<tr><td>${esc(guard)}</td><td class="n">${num(n)}</td></tr>`).join('')
        : '<tr><td class="empty" colspan="2">no refusals</td></tr>';
      return (
        `<h3 style="font-size:13px;margin:4px 0">${swatch(color)}${esc(s.tier)}</h3>${chart}` +
        `<table class="refusals" data-tier="${esc(s.tier)}">` +
        '<thead><tr><th>refused by</th><th class="n">lookups</th></tr></thead>' +
        `<tbody>${rows}</tbody></table>` +
        (s.bound ? boundTable(s.tier, s.bound) : '')
      );
    })
    .join('');
}

/**
 * A semantic tier's error bound per namespace (`maxErrorRate`): the bound, the estimated share of
 * wrong hits with its 95% interval, the hit rate, the labels it learned from by source and the
 * explorations spent against their budget; a namespace with no estimate yet serves nothing.
 */
function boundTable(tier: string, rows: BoundRow[]) {
  const share = (v: number | null) => (v === null ? '-' : pct(v));
  const body = rows.length
    ? rows
        .map((r) => {
          const estimate =
            r.errorRate === null
              ? r.namespace === '(other)'
                ? '-'
                : '<span class="empty">learning — serves nothing yet</span>'
              : `${pct(r.errorRate)} <span class="empty">(${share(r.errorLow)}–${share(r.errorHigh)})</span>`;
          const labels = Object.entries(r.labels)
            .filter(([, n]) => n > 0)
            .map(([source, n]) => `${esc(source)} ${num(n)}`)
            .join(', ');
          const budget = r.explorationBudget === null ? '' : ` / ${num(r.explorationBudget * r.lookups)}`;
          return (
            `<tr><td>${esc(r.namespace)}</td><td class="n">${share(r.maxErrorRate)}</td>` +
            `<td class="n">${estimate}</td>` +
            `<td class="n">${r.lookups === 0 ? '-' : pct(r.hits / r.lookups)}</td>` +
            `<td>${labels || '<span class="empty">none</span>'}</td>` +
            `<td class="n">${num(r.explorations)}${budget}</td></tr>`
          );
        })
        .join('')
    : '<tr><td class="empty" colspan="6">no namespace yet</td></tr>';
  return (
    `<table class="bound" data-tier="${esc(tier)}">` +
    '<thead><tr><th>namespace</th><th class="n">bound</th><th class="n">error rate (95%)</th>' +
    '<th class="n">hit rate</th><th>labels</th><th class="n">explorations</th></tr></thead>' +
    `<tbody>${body}</tbody></table>`
  );
}

// Top tables: the 10 first rows by the column chosen (lookups at first), highest first.
type TopTable = 'namespaces' | 'models';
type SortKey = 'lookups' | 'hitRate' | 'savedTokens' | 'savedCost';
const sortKey: Record<TopTable, SortKey> = { namespaces: 'lookups', models: 'lookups' };
const lastRows: Record<TopTable, UsageRow[]> = { namespaces: [], models: [] };
const rank = (v: number | null | undefined) => (v === null || v === undefined ? -1 : v);
function showTop(table: TopTable, rows: UsageRow[]) {
  lastRows[table] = rows;
  const key = sortKey[table];
  const top = [...rows]
    .sort(
      (a, b) =>
        rank(b[key]) - rank(a[key]) ||
        rank(b.hits) - rank(a.hits) ||
        String(a.name).localeCompare(String(b.name)),
    )
    .slice(0, 10);
  document.querySelector(`#${table} tbody`)!.innerHTML = usageRows(top);
  for (const th of document.querySelectorAll(`#${table} th[aria-sort]`)) {
    th.setAttribute('aria-sort', th.querySelector('button')?.dataset.sort === key ? 'descending' : 'none');
  }
}
for (const table of ['namespaces', 'models'] as const) {
  for (const button of document.querySelectorAll<HTMLButtonElement>(`#${table} button.sort`)) {
    button.addEventListener('click', () => {
      sortKey[table] = button.dataset.sort as SortKey;
      showTop(table, lastRows[table]);
    });
  }
}
const usageRow = (r: UsageRow) =>
  `<tr><td>${r.name === '' ? '<span class="empty">(default)</span>' : esc(r.name)}</td>` +
  `<td class="n">${r.lookups === null ? '-' : num(r.lookups)}</td>` +
  `<td class="n">${r.hitRate === null ? `${num(r.hits)} hits` : pct(r.hitRate)}</td>` +
  `<td class="n">${num(r.savedTokens)}</td><td class="n">${usd(r.savedCost)}</td></tr>`;
const usageRows = (rows: UsageRow[]) =>
  rows.length ? rows.map(usageRow).join('') : '<tr><td class="empty" colspan="5">no lookups yet</td></tr>';
function tierRow(t: TierStats, health: Record<string, TierHealth>, now: number) {
  const h = health[t.name] ?? { status: t.breaker === 'open' ? 'down' : 'up', since: now, sinceStart: true };
  const since = h.sinceStart ? `start (${ago(now - h.since)})` : `${stamp(h.since)} (${ago(now - h.since)})`;
  return (
    `<tr data-tier="${esc(t.name)}"><td>${swatch(colorOf(t.name))}${esc(t.name)}</td>` +
    `<td class="${esc(h.status)}">${esc(h.status)}${h.reason ? `: ${esc(h.reason)}` : ''}</td>` +
    `<td>${esc(since)}</td><td class="n">${num(t.hits)}</td><td class="n">${num(t.misses)}</td>` +
    `<td class="n">${t.store ? num(t.store.entries) : '?'}</td>` +
    `<td class="n">${t.get.p99Ms.toFixed(2)}</td></tr>`
  );
}

function alertRows(alerts: AlertsReply, now: number) {
  // The alert log holds a firing event and later its resolution: one row per incident (id, firedAt).
  const incidents = new Map<string, Alert>();
  for (const a of alerts.recent) {
    const id = `${a.id}@${a.firedAt}`;
    if (!incidents.has(id) || a.state === 'resolved') incidents.set(id, a);
  }
  const rows = [...incidents.values()]
    .sort((a, b) => b.firedAt - a.firedAt)
    .slice(0, 10)
    .map(
      (a) =>
        `<tr><td class="${a.state}">${a.state}</td><td>${esc(a.message.replace(/^resolved: /, ''))}</td>` +
        `<td>${esc(stamp(a.firedAt))}</td><td>${a.resolvedAt ? esc(stamp(a.resolvedAt)) : '-'}</td>` +
        `<td class="n">${esc(ago((a.resolvedAt || now) - a.firedAt))}</td></tr>`,
    );
  return rows.join('') || '<tr><td class="empty" colspan="5">no alerts</td></tr>';
}
