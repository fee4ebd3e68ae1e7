/**
 * What every part of the page uses: the token and the API calls, element lookups, text formats
 * and the tier colours. The page's state (`shown`) is here too. The scripts share one global
 * scope: they run as one inline classic script (see index.html), so none imports another.
 */

// Read by hand: URLSearchParams would turn a '+' of the token into a space.
const tokenPart = location.hash
  .slice(1)
  .split('&')
  .find((p) => p.startsWith('token='));
const token = tokenPart ? decodeURIComponent(tokenPart.slice(6)) : null;
const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
const TIER_COLORS = ['#2e90fa', '#f79009', '#12b76a', '#9e77ed', '#f04438', '#0ba5ec', '#ee46bc', '#a15c07'];
const MODEL_COLORS = ['#6172f3', '#d444f1', '#15b79e', '#fb6514', '#4e5ba6', '#e31b54', '#669f2a', '#875bf7'];
const ALL_COLOR = 'var(--ink)';
/** What the page shows: the charts' range, and each tier's colour (by its position in the config). */
const shown: { range: string; tierColor: Record<string, string> } = { range: '15m', tierColor: {} };

// These errors are the page's own (shown in its header), not the library's: plain Error is right.
const get = <Reply>(path: string): Promise<Reply> =>
  fetch(path, { headers }).then((r) => {
    if (r.status === 401) {
      throw new Error(
        token
          ? 'the token in the address is not accepted (HTTP 401)'
          : 'this server wants a token: open it as /#token=<token> (URL-encoded)',
      );
    }
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.json() as Promise<Reply>;
  });
const $ = (id: string) => document.getElementById(id)!;
const svgOf = (id: string) => document.querySelector<SVGSVGElement>(`#${id}`)!;
const tipOf = (svg: SVGSVGElement) => svg.parentElement!.querySelector<HTMLElement>('.tip')!;
const text = (id: string, value: string) => {
  $(id).textContent = value;
};
const colorOf = (tier: string) => shown.tierColor[tier] ?? ALL_COLOR;
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
// Names come from applications: control and bidi-override characters are shown as code points, so a
// name cannot reverse or hide the text around it.
const esc = (s: unknown) =>
  String(s)
    .replace(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters it escapes
      /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    )
    .replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
const num = (n: number) => Math.round(n).toLocaleString('en-US');
const usd = (n: number) => `$${n.toFixed(4)}`;
const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
const pad = (n: number) => String(n).padStart(2, '0');
const clock = (t: number) => {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
};
const clockSeconds = (t: number) => `${clock(t)}:${pad(new Date(t).getSeconds())}`;
const dayName = (t: number) => new Date(t).toLocaleDateString('en-US', { weekday: 'short', day: 'numeric' });
const stamp = (t: number) =>
  new Date(t).toLocaleString('en-US', {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  });
const MINUTE = 60000;
const HOUR = 3600000;
const DAY = 86400000;
const ago = (ms: number) =>
  ms < MINUTE
    ? `${Math.round(ms / 1000)} s`
    : ms < HOUR
      ? `${Math.round(ms / MINUTE)} min`
      : ms < DAY
        ? `${(ms / HOUR).toFixed(1)} h`
        : `${(ms / DAY).toFixed(1)} d`;
const duration = (ms: number) =>
  ms < MINUTE
    ? `${+(ms / 1000).toFixed(1)} s`
    : ms < HOUR
      ? `${+(ms / MINUTE).toFixed(1)} min`
      : ms < DAY
        ? `${+(ms / HOUR).toFixed(1)} h`
        : `${+(ms / DAY).toFixed(1)} d`;
const swatch = (color: string) => `<span class="sw" style="background:${color}"></span>`;
