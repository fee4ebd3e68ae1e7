/**
 * Precision guards: a candidate above the similarity threshold is still refused when the two
 * prompts differ in something the answer depends on. Embeddings (lexical or neural) place
 * "What is 15% of 80?" right next to "What is 15% of 90?"; these checks are cheap, exact, and
 * only ever turn a hit into a miss.
 *
 *   numbers    the sets of numbers (digits, decimals, percentages, number words) differ
 *   negation   one prompt has a negation and the other has none (not, no, never, n't, without, 不, 没 ...)
 *   opposites  one prompt has a word whose opposite the other has (install / uninstall, 安装 / 卸载 ...)
 *   direction  a relation word (to, from, into, than, vs, per) has its object swapped with
 *              something else in the other prompt: "5 miles to km" vs "5 km to miles"
 *
 * What each guard costs in recall is measured by `npm run bench -- semantic` on public data.
 */
import { type Token, tokenize } from './text.js';

export type GuardName = 'numbers' | 'negation' | 'opposites' | 'direction';
export const ALL_GUARDS: readonly GuardName[] = ['numbers', 'negation', 'opposites', 'direction'];

/**
 * Number words that name a count. Scale words (hundred, thousand), "one" (a pronoun as often as
 * a number), "double" or "一" (part of many Chinese words) are left out: on the data they refused
 * more true paraphrases than they caught.
 */
const NUMBER_WORDS: Record<string, string> = Object.fromEntries(
  'two:2 three:3 four:4 five:5 six:6 seven:7 eight:8 nine:9 ten:10 eleven:11 twelve:12 twenty:20 thirty:30 forty:40 fifty:50 二:2 两:2 三:3 四:4 五:5 六:6 七:7 八:8 九:9'
    .split(' ')
    .map((pair) => pair.split(':') as [string, string]),
);

/** "without" is not here: it mostly paraphrases "no X" / "non-X" rather than negating the question. */
const NEGATIONS = new Set(
  "not no never none nothing nobody neither nor cannot can't don't doesn't didn't isn't aren't wasn't weren't won't wouldn't shouldn't couldn't haven't hasn't 不 没 无 非 别 未 勿".split(
    ' ',
  ),
);

/** Pairs of words that turn a question into its opposite. Single words match whole tokens; CJK pairs match substrings. */
const OPPOSITES: ReadonlyArray<readonly [string, string]> = [
  ['install', 'uninstall'],
  ['enable', 'disable'],
  ['add', 'remove'],
  ['increase', 'decrease'],
  ['upload', 'download'],
  ['encrypt', 'decrypt'],
  ['import', 'export'],
  ['start', 'stop'],
  ['open', 'close'],
  ['buy', 'sell'],
  ['before', 'after'],
  ['more', 'less'],
  ['max', 'min'],
  ['maximum', 'minimum'],
  ['high', 'low'],
  ['higher', 'lower'],
  ['largest', 'smallest'],
  ['biggest', 'smallest'],
  ['best', 'worst'],
  ['first', 'last'],
  ['lock', 'unlock'],
  ['subscribe', 'unsubscribe'],
  ['connect', 'disconnect'],
  ['mount', 'unmount'],
  ['encode', 'decode'],
  ['compress', 'decompress'],
  ['push', 'pull'],
  ['send', 'receive'],
  ['win', 'lose'],
  ['gain', 'lose'],
  ['hot', 'cold'],
  ['fast', 'slow'],
  ['cheap', 'expensive'],
  ['male', 'female'],
  ['men', 'women'],
  ['boy', 'girl'],
  ['husband', 'wife'],
  ['north', 'south'],
  ['east', 'west'],
  ['left', 'right'],
  ['up', 'down'],
  ['in', 'out'],
  ['on', 'off'],
  ['yes', 'no'],
  ['true', 'false'],
  ['pros', 'cons'],
  ['advantage', 'disadvantage'],
  ['legal', 'illegal'],
  ['safe', 'unsafe'],
  ['healthy', 'unhealthy'],
  ['like', 'dislike'],
  ['love', 'hate'],
  ['agree', 'disagree'],
  ['accept', 'reject'],
  ['allow', 'deny'],
  ['create', 'delete'],
  ['join', 'leave'],
  ['安装', '卸载'],
  ['打开', '关闭'],
  ['开启', '关闭'],
  ['启用', '禁用'],
  ['增加', '减少'],
  ['上传', '下载'],
  ['加密', '解密'],
  ['导入', '导出'],
  ['登录', '退出'],
  ['买', '卖'],
  ['最大', '最小'],
  ['最高', '最低'],
  ['之前', '之后'],
  ['添加', '删除'],
];

const RELATIONS = new Set([
  'to',
  'into',
  'from',
  'than',
  'vs',
  'versus',
  'per',
  'over',
  '转',
  '换成',
  '到',
  '比',
]);

interface Profile {
  words: string[];
  text: string;
  numbers: string[];
  negated: boolean;
  /** Relation word -> the next content word after it. */
  relations: Map<string, Set<string>>;
}

/** List markers ("1)", "2.") number the parts of a text, not what it asks about. */
const LIST_MARKER = /(^|\s)\(?\d{1,2}[).](?=\s)/g;

function profile(prompt: string): Profile {
  const tokens = tokenize(prompt.replace(LIST_MARKER, '$1'));
  const words = tokens.map((t) => t.text);
  return {
    words,
    text: words.join(tokens.some((t) => t.cjk) ? '' : ' '),
    numbers: numbersOf(tokens),
    negated: negationCount(tokens) > 0,
    relations: relationsOf(words),
  };
}

function numbersOf(tokens: Token[]): string[] {
  const out: string[] = [];
  for (const t of tokens) {
    for (const m of t.text.matchAll(/\d+(?:\.\d+)?%?/g)) out.push(m[0].replace(/\.0+(?=%?$)/, ''));
    const word = NUMBER_WORDS[t.text];
    if (word) out.push(word);
  }
  return [...new Set(out)].sort();
}

function negationCount(tokens: Token[]): number {
  let n = 0;
  for (const t of tokens) if (NEGATIONS.has(t.text) || (!t.cjk && t.text.endsWith("n't"))) n++;
  return n;
}

/** Each relation word with the set of words that follow it (every occurrence). */
function relationsOf(words: string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  words.forEach((w, i) => {
    if (!RELATIONS.has(w)) return;
    const next = words.slice(i + 1).find((x) => !['the', 'a', 'an', 'my', 'your'].includes(x));
    if (!next) return;
    const objects = out.get(w) ?? new Set<string>();
    objects.add(next);
    out.set(w, objects);
  });
  return out;
}

/**
 * "A to B" against "B to A": a relation word takes x in one prompt and y in the other, while
 * both prompts contain both x and y, so the same things are related the other way round.
 */
function swapped(q: Profile, c: Profile): boolean {
  for (const [relation, qObjects] of q.relations) {
    const cObjects = c.relations.get(relation);
    if (!cObjects) continue;
    for (const x of qObjects) {
      if (cObjects.has(x) || !c.words.includes(x)) continue;
      for (const y of cObjects) if (!qObjects.has(y) && q.words.includes(y)) return true;
    }
  }
  return false;
}

function has(p: Profile, word: string): boolean {
  return /[^ -~]/.test(word) ? p.text.includes(word) : p.words.includes(word);
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The first guard that refuses this pair, or undefined when the candidate may answer the query. */
export function refusingGuard(
  query: string,
  candidate: string,
  guards: readonly GuardName[] = ALL_GUARDS,
): GuardName | undefined {
  const q = profile(query);
  const c = profile(candidate);
  for (const guard of guards) {
    switch (guard) {
      case 'numbers':
        if (!sameList(q.numbers, c.numbers)) return guard;
        break;
      case 'negation':
        if (q.negated !== c.negated) return guard;
        break;
      case 'opposites':
        for (const [a, b] of OPPOSITES) {
          const qa = has(q, a);
          const qb = has(q, b);
          const ca = has(c, a);
          const cb = has(c, b);
          if ((qa && !qb && cb && !ca) || (qb && !qa && ca && !cb)) return guard;
        }
        break;
      case 'direction':
        if (swapped(q, c)) return guard;
        break;
    }
  }
  return undefined;
}
