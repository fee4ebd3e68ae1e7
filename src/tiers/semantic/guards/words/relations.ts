/** Word tables of the direction guard (direction.ts). */

/** Relation words whose objects, swapped, turn a question around. */
export const RELATIONS: ReadonlySet<string> = new Set([
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

/** Skipped when looking for a relation word's object. */
export const ARTICLES: ReadonlySet<string> = new Set(['the', 'a', 'an', 'my', 'your']);
