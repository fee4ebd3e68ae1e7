/**
 * The lookups of one LangChain `generate()` batch: no hit after a miss.
 *
 * LangChain 1.x (BaseChatModel and BaseLLM `_generateCached`) puts the hits of a batch that
 * also has misses at the wrong positions: it numbers them after filtering the misses out, then
 * writes the model's answers for the misses at their own positions over them. A batch of France
 * (miss), Spain (hit), Italy (hit) returns France's answer for France, Italy's answer for Spain
 * and nothing for Italy: a wrong answer no cache can detect afterwards, and one LangChain's own
 * InMemoryCache gives too. Its placement is right only while every hit comes before the first
 * miss, so a hit that comes after a miss of its batch is withheld: it becomes a miss, and
 * LangChain asks the model for it too.
 *
 * A batch's lookups are made in prompt order in one synchronous `map`, before any of them can
 * settle, so lookups with one llmKey made in the same turn of the event loop are taken as one
 * batch (an attached model's callbacks narrow that to prompts that really are in a batch). A
 * miss is answered at once (nothing depends on it but the hits after it); a hit waits only for
 * the lookups before it. Callers that merely started together may be grouped too: for them a
 * withheld hit costs a model call, never a wrong answer.
 */
interface Member<T> {
  value: T | null;
  settled: boolean;
  resolved: boolean;
  resolve: (value: T | null) => void;
}

interface Group<T> {
  members: Member<T>[];
  onWithheld: (n: number) => void;
}

/** The group of each llmKey in this turn. */
const open = new Map<string, Group<unknown>>();

/** The lookup's answer: its own, or null when a lookup before it in its group missed. */
export function answeredTogether<T>(
  llmKey: string,
  lookup: Promise<T | null>,
  onWithheld: (withheld: number) => void,
): Promise<T | null> {
  let group = open.get(llmKey) as Group<T> | undefined;
  if (!group) {
    group = { members: [], onWithheld };
    open.set(llmKey, group as Group<unknown>);
    queueMicrotask(() => open.delete(llmKey));
  }
  const g = group;
  return new Promise<T | null>((resolve) => {
    const member: Member<T> = { value: null, settled: false, resolved: false, resolve };
    g.members.push(member);
    const settle = (value: T | null) => {
      member.value = value ?? null;
      member.settled = true;
      decide(g);
    };
    lookup.then(settle, () => settle(null));
  });
}

/** Answers every member whose answer is known: misses at once, hits once all before them are known. */
function decide<T>(g: Group<T>): void {
  let missedBefore = false;
  let unknownBefore = false;
  let withheld = 0;
  for (const m of g.members) {
    if (!m.settled) {
      unknownBefore = true;
      continue;
    }
    const hit = m.value !== null;
    if (!m.resolved && (!hit || missedBefore || !unknownBefore)) {
      m.resolved = true;
      if (hit && missedBefore) withheld++;
      m.resolve(hit && !missedBefore ? m.value : null);
    }
    if (!hit) missedBefore = true;
  }
  if (withheld > 0) g.onWithheld(withheld);
}
