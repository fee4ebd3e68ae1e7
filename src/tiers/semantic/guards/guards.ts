/**
 * Precision guards: a candidate above the similarity threshold is still refused when the two
 * questions differ in something the answer depends on. Embeddings (lexical or neural) place
 * "What is 15% of 80?" right next to "What is 15% of 90?"; these checks are cheap, exact, and
 * only ever turn a hit into a miss. They are written for short questions, English and Chinese.
 *
 *   numbers    the quantities differ. Digits, decimals, versions (3.11), percentages, negative
 *              numbers (-5), number words (twenty-one, a dozen, two hundred, 七, 二十一, 百分之十五)
 *              and scales (5 million, 3万) all become values, so "twenty-one" = "21", counted as often
 *              as given ("case 0 step 0" / "case 0 step 1" differ); a value 1 alone never
 *              refuses ("a week" = "1 week"). Units are compared when both questions
 *              give one to the same value: 5 km / 5 miles, $10 / €10, 5 days / 5 weeks differ;
 *              5km / 5 km / 5 kilometres and $10 / 10 dollars do not (a unit the other question
 *              names elsewhere, "5 miles to km", is left to direction). Times are on a 24-hour
 *              clock: 9am / 9pm and 上午9点 / 下午9点 differ, 9pm / 21:00 do not. Ordinals
 *              (first, 2nd, third, 第二) are values too, "first" like 1 ("second largest" /
 *              "largest" differ, "11th class" / "class 11" and "my first order" / "my order" do
 *              not), and when both questions have ordinals they must be the same: first /
 *              second, 第一次 / 第二次 differ. Superscripts are exponents, never folded: 10² is
 *              10 and ^2 (as 10^2 is), not 102; ½ is 1/2, not 12.
 *   negation   one question has a negation and the other has none (not, no, never, n't, 不, 没 ...;
 *              not 非常 "very", 区别 "difference" or the question form 能不能 / 有没有)
 *   opposites  one question has a word whose opposite the other has (install / uninstall,
 *              add / remove, upgrade / downgrade, 安装 / 卸载 ...), in any inflection
 *              (added / removing)
 *   direction  a relation word (to, from, into, than, vs, per) has its object swapped with
 *              something else in the other question: "5 miles to km" vs "5 km to miles"
 *   entities   the questions name different members of one closed class: programming languages,
 *              operating systems, devices, browsers, clouds, databases, frameworks, plan tiers
 *              (Pro / Enterprise plan, 免费版 / 专业版), billing periods (monthly / yearly,
 *              每月 / 每年), weekdays, months, colours, countries and big cities, currencies and
 *              units, brands and payment methods, refund / exchange. A member counts only when
 *              the other question does not name it too ("Python vs Java" / "Java vs Python"
 *              passes). Also, in English: two questions that differ only in one or two content
 *              words, each side's including a capitalized name ("Pro plan" / "Enterprise plan",
 *              "Tokyo" / "Osaka"), are refused; sentence-initial words and Title Case questions
 *              do not count as names, and names with a common stem (India / Indian), one typo
 *              apart (Senstor / Senator) or an initialism of each other (VS / Visual Studio)
 *              are alike.
 *   symbols    the questions differ in emoji, comparison operators, or superscripts, subscripts,
 *              fractions and enclosed numbers (MEANINGFUL_SYMBOLS): 👍 / 👎, == / ===, 3ⁿ / 3n.
 *
 * Paraphrases also differ in words ("reset" / "change my password"), so no guard refuses a word
 * difference as such. What each guard costs in recall is measured by `npm run bench -- semantic`
 * on public data. A profile of each question is computed once and kept (small LRU), since the
 * same query is checked against several candidates and the same entries come up again and again.
 */
import { swapped } from './direction.js';
import { entitiesDiffer } from './entities.js';
import { numbersDiffer } from './numbers.js';
import { oppositesDiffer } from './opposites.js';
import { profileOf } from './profile.js';
import { symbolsDiffer } from './symbols.js';

export type GuardName = 'numbers' | 'negation' | 'opposites' | 'direction' | 'entities' | 'symbols';
export const ALL_GUARDS: readonly GuardName[] = [
  'numbers',
  'negation',
  'opposites',
  'direction',
  'entities',
  'symbols',
];

/** The first guard that refuses this pair, or undefined when the candidate may answer the query. */
export function refusingGuard(
  query: string,
  candidate: string,
  guards: readonly GuardName[] = ALL_GUARDS,
): GuardName | undefined {
  if (guards.length === 0) return undefined;
  const q = profileOf(query);
  const c = profileOf(candidate);
  for (const guard of guards) {
    switch (guard) {
      case 'numbers':
        if (numbersDiffer(q.quantities, c.quantities)) return guard;
        break;
      case 'negation':
        if (q.negated !== c.negated) return guard;
        break;
      case 'opposites':
        if (oppositesDiffer(q, c)) return guard;
        break;
      case 'direction':
        if (swapped(q, c)) return guard;
        break;
      case 'entities':
        if (entitiesDiffer(q.entities, c.entities)) return guard;
        break;
      case 'symbols':
        if (symbolsDiffer(q.symbols, c.symbols)) return guard;
        break;
    }
  }
  return undefined;
}
