/** Word tables of the negation guard (negation.ts); the entities guard skips negations as content words. */
/** "without" is not here: it mostly paraphrases "no X" / "non-X" rather than negating the question. */
export const NEGATIONS: ReadonlySet<string> = new Set(
  "not no never none nothing nobody neither nor cannot can't don't doesn't didn't isn't aren't wasn't weren't won't wouldn't shouldn't couldn't haven't hasn't 不 没 无 非 别 未 勿".split(
    ' ',
  ),
);

/**
 * Chinese words that contain a negation character but do not negate: 非常 (very), 区别
 * (difference), 未来 (future) ...; and A-not-A questions (能不能, 有没有) are not negations either.
 */
export const NOT_NEGATIONS: ReadonlySet<string> = new Set(
  '非常 除非 无论 无线 无人 无聊 无数 不过 不错 不少 不仅 不断 不同 不久 不管 别人 别的 特别 区别 分别 级别 类别 识别 告别 差别 性别 个别 未来 没准'.split(
    ' ',
  ),
);
