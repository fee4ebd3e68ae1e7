import { describe, expect, it } from 'vitest';
import { takeSeat } from './batch-answers.js';

/** Seats taken in one turn; `settle` them in any order, read what each caller got. */
function batch(seats: Array<{ namespace: string; llmKey: string }>) {
  const got: Array<string | null | undefined> = seats.map(() => undefined);
  let withheld = 0;
  const withholding = { withholdHits: (n: number) => (withheld += n) };
  const taken = seats.map(({ namespace, llmKey }, i) =>
    takeSeat<string>(namespace, llmKey, withholding, { answer: (v) => (got[i] = v) }),
  );
  return { taken, got, withheld: () => withheld };
}

describe('batch seats (one LangChain generate() per llmKey and namespace, per turn)', () => {
  it('answers hits in order, a miss at once, and withholds every hit after a miss', () => {
    const { taken, got, withheld } = batch(
      Array.from({ length: 5 }, () => ({ namespace: 'n', llmKey: 'k' })),
    );
    taken[3]!.settle('d'); // known early, waits for the seats before it
    expect(got).toEqual([undefined, undefined, undefined, undefined, undefined]);
    taken[0]!.settle('a');
    expect(got[0]).toBe('a');
    taken[2]!.settle(null); // a miss: answered at once; the known hit after it is withheld
    expect(got[2]).toBeNull();
    expect(got[3]).toBeNull();
    taken[4]!.settle('e'); // after the miss: withheld at once
    expect(got[4]).toBeNull();
    taken[1]!.settle('b');
    expect(got).toEqual(['a', 'b', null, null, null]);
    expect(withheld()).toBe(2);
  });

  it('keeps namespaces and llmKeys apart in the same turn', () => {
    const { taken, got, withheld } = batch([
      { namespace: 'a', llmKey: 'k' },
      { namespace: 'b', llmKey: 'k' },
      { namespace: 'a', llmKey: 'other' },
      { namespace: 'c', llmKey: 'k' },
      { namespace: 'b', llmKey: 'k' },
    ]);
    taken[0]!.settle(null); // a miss in namespace a withholds nothing of b, c or another llmKey
    taken[1]!.settle('b1');
    taken[2]!.settle('o');
    taken[3]!.settle('c');
    taken[4]!.settle('b2');
    expect(got).toEqual([null, 'b1', 'o', 'c', 'b2']);
    expect(withheld()).toBe(0);
  });

  it('starts a new batch in the next turn', async () => {
    const first = batch([{ namespace: 'n', llmKey: 'k' }]);
    first.taken[0]!.settle(null);
    await Promise.resolve();
    const second = batch([{ namespace: 'n', llmKey: 'k' }]);
    second.taken[0]!.settle('x');
    expect(second.got).toEqual(['x']);
  });
});
