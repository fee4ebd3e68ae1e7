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
/** Told how many hits a batch withheld (the engine counts them). */
export interface Withholding {
  withholdHits(n: number): void;
}

/** Who is told what a seat's caller gets. */
export interface BatchAnswer<T> {
  answer(value: T | null): void;
}

/** One lookup's place in its batch. */
export interface BatchSeat<T> {
  /** The lookup's own answer (null: a miss); what the caller gets goes to the seat's `answer`. */
  settle(value: T | null): void;
}

class Seat<T> implements BatchSeat<T> {
  value: T | null = null;
  settled = false;
  answered = false;

  constructor(
    private readonly group: Group<T>,
    readonly index: number,
    private readonly to: BatchAnswer<T>,
  ) {}

  answer(value: T | null): void {
    this.to.answer(value);
  }

  settle(value: T | null): void {
    if (this.settled) return;
    this.value = value ?? null;
    this.settled = true;
    this.group.settled(this);
  }
}

/**
 * The seats of one llmKey in this turn. A miss is answered at once; a hit once every seat before
 * it is known (`known`: how many leading seats are), or at once as null when a seat before it
 * missed (`firstMiss`). Each seat is visited a bounded number of times, so a batch of n hits
 * costs O(n), not O(n^2).
 */
class Group<T> {
  readonly seats: Seat<T>[] = [];
  private known = 0;
  private firstMiss = Number.POSITIVE_INFINITY;

  /** The group of the same llmKey in another namespace, this turn. */
  next: Group<T> | undefined;

  constructor(
    readonly namespace: string,
    private readonly withholding: Withholding,
  ) {}

  settled(seat: Seat<T>): void {
    let withheld = 0;
    const seats = this.seats;
    if (seat.value === null) {
      seat.answered = true;
      seat.answer(null);
      // Hits after this miss, known already and waiting for the seats before them, are withheld.
      const until = Math.min(this.firstMiss, seats.length);
      for (let j = seat.index + 1; j < until; j++) withheld += this.withhold(seats[j]!);
      if (seat.index < this.firstMiss) this.firstMiss = seat.index;
    } else if (this.firstMiss < seat.index) withheld += this.withhold(seat);
    while (this.known < seats.length && seats[this.known]!.settled) {
      const s = seats[this.known]!;
      if (!s.answered) {
        s.answered = true;
        s.answer(s.value);
      }
      this.known++;
    }
    if (withheld > 0) this.withholding.withholdHits(withheld);
  }

  /** A known hit not yet answered, after a miss of its batch: answered as a miss. */
  private withhold(seat: Seat<T>): number {
    if (!seat.settled || seat.answered || seat.value === null) return 0;
    seat.answered = true;
    seat.answer(null);
    return 1;
  }
}

/**
 * The groups of this turn, by llmKey: an llmKey is the same string on every lookup of a model,
 * so finding it costs no hashing of a new string (joining namespace and llmKey into one key did,
 * ~1 KB per lookup). The groups of one llmKey in other namespaces hang off the first (`next`).
 */
const open = new Map<string, Group<unknown>>();

/**
 * A seat in this turn's batch of `llmKey` in `namespace`, taken in the order of the lookups.
 * `to` is told the lookup's own answer, or null when a lookup before it in its batch missed.
 */
export function takeSeat<T>(
  namespace: string,
  llmKey: string,
  withholding: Withholding,
  to: BatchAnswer<T>,
): BatchSeat<T> {
  const first = open.get(llmKey) as Group<T> | undefined;
  let group = first;
  while (group !== undefined && group.namespace !== namespace) group = group.next;
  if (group === undefined) {
    group = new Group<T>(namespace, withholding);
    if (first === undefined) {
      open.set(llmKey, group as Group<unknown>);
      queueMicrotask(() => open.delete(llmKey));
    } else {
      group.next = first.next;
      first.next = group;
    }
  }
  const seat = new Seat(group, group.seats.length, to);
  group.seats.push(seat);
  return seat;
}
