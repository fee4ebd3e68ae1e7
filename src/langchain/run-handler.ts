/**
 * What LangChain's plain path never tells a BaseCache, learned from the model's own callbacks
 * for models given to `cache.attach(model)`:
 *
 * - a call failed (`handleLLMError`): the key is released at once, so callers waiting for its
 *   answer stop waiting (without this they wait for the model's measured time);
 * - a call of a batch succeeded (`handleLLMEnd`): its answer is stored now. LangChain stores a
 *   batch's answers only when every item succeeded, so one failed item used to lose the others.
 *
 * Because failures are reported, callers of an attached model wait for each other's answers as
 * withCache's do, with one exception the handler also detects: a prompt that appears twice in
 * one `generate()` batch. LangChain looks up every prompt of a batch before it calls the model,
 * so the second lookup must not wait for the first (it would wait for itself).
 *
 * Only runs whose key this view looked up and missed are acted on (the `RunLedger`), so a
 * streamed call, a hit replayed by LangChain or another cache's run is left alone, and the key is
 * the one LangChain looked up: the prompt as LangChain flattens it and the llmKey it builds from
 * the call options the run reports.
 */
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import { type BaseMessage, getBufferString } from '@langchain/core/messages';
import type { Generation, LLMResult } from '@langchain/core/outputs';

/** What attach() needs of a model: LangChain's BaseChatModel and BaseLLM have all of it. */
export interface AttachableModel {
  cache?: unknown;
  callbacks?: unknown;
  invoke: (...args: never[]) => unknown;
  _getSerializedCacheKeyParametersForCall(options: object): string;
}

/** The view's side of attach(): what the cache did per key, so the run handler can follow up. */
export interface RunSink {
  storeFromRun(prompt: string, llmKey: string, generations: Generation[]): Promise<void>;
  release(prompt: string, llmKey: string): void;
}

const LIMIT = 1024;

/** Keys of one attached model: missed and not yet answered; answered by a run and not yet by LangChain. */
export class RunLedger {
  private readonly awaiting = new Set<string>();
  private readonly storedByRun = new Set<string>();
  /** Keys that appear more than once in a batch whose lookups are not all made: lookups left, and whether the first was made. */
  private readonly repeated = new Map<string, { left: number; first: boolean }>();

  /** A key's run started again in the same batch. */
  repeat(key: string): void {
    const known = this.repeated.get(key);
    if (known) known.left++;
    else if (this.repeated.size < LIMIT) this.repeated.set(key, { left: 2, first: false });
  }

  /**
   * True when this lookup repeats a key looked up earlier in its own batch: it must not wait for
   * that one. LangChain makes a batch's lookups in prompt order, so the first one leads.
   */
  takeRepeat(prompt: string, llmKey: string): boolean {
    const key = pair(prompt, llmKey);
    const known = this.repeated.get(key);
    if (!known) return false;
    if (--known.left <= 0) this.repeated.delete(key);
    if (!known.first) {
      known.first = true;
      return false;
    }
    return true;
  }

  /** Runs of batches of two or more prompts, started and not ended, per key. */
  private readonly batched = new Map<string, number>();

  enterBatch(key: string): void {
    if (this.batched.size < LIMIT || this.batched.has(key))
      this.batched.set(key, (this.batched.get(key) ?? 0) + 1);
  }

  leaveBatch(key: string): void {
    const n = this.batched.get(key);
    if (n === undefined) return;
    if (n <= 1) this.batched.delete(key);
    else this.batched.set(key, n - 1);
  }

  /** Whether a lookup of this key may belong to a batch of two or more prompts. */
  inBatch(prompt: string, llmKey: string): boolean {
    return this.batched.has(pair(prompt, llmKey));
  }

  missed(prompt: string, llmKey: string): void {
    add(this.awaiting, pair(prompt, llmKey));
  }

  /** True (once) when this key missed and waits for an answer. */
  takeMissed(prompt: string, llmKey: string): boolean {
    return this.awaiting.delete(pair(prompt, llmKey));
  }

  storedFromRun(prompt: string, llmKey: string): void {
    add(this.storedByRun, pair(prompt, llmKey));
  }

  /** True (once) when a run already stored this key: LangChain's own update is then a repeat. */
  takeStored(prompt: string, llmKey: string): boolean {
    return this.storedByRun.delete(pair(prompt, llmKey));
  }
}

const pair = (prompt: string, llmKey: string) => `${llmKey}\u0000${prompt}`;

/** Bounded: a key whose run never reports (a crashed handler chain) is forgotten, oldest first. */
function add(set: Set<string>, value: string): void {
  if (set.size >= LIMIT) set.delete(set.values().next().value!);
  set.add(value);
}

interface Run {
  prompt: string;
  llmKey: string;
  /** Whether the run belongs to a batch of two or more prompts (counted in the ledger until it ends). */
  inBatch: boolean;
}

class StrataRunHandler extends BaseCallbackHandler {
  name = 'strata-run-handler';
  /** Awaited by LangChain, so an answer is stored before its batch's outcome is decided. */
  override awaitHandlers = true;
  private readonly runs = new Map<string, Run>();
  /** Runs started by one generate() share its `extraParams` object: the batch they belong to. */
  private readonly batches = new WeakMap<object, Array<{ key: string; run: Run }>>();

  constructor(
    private readonly model: AttachableModel,
    private readonly ledger: RunLedger,
    private readonly sink: RunSink,
  ) {
    super();
  }

  override handleChatModelStart(
    _llm: unknown,
    messages: BaseMessage[][],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
  ): void {
    const first = messages[0];
    if (first) this.started(runId, getBufferString(first), extraParams);
  }

  override handleLLMStart(
    _llm: unknown,
    prompts: string[],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
  ): void {
    const first = prompts[0];
    if (first !== undefined) this.started(runId, first, extraParams);
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const run = this.finished(runId);
    const generations = output.generations[0];
    if (!run || !generations?.length) return;
    await this.sink.storeFromRun(run.prompt, run.llmKey, generations);
  }

  override handleLLMError(_error: unknown, runId: string): void {
    const run = this.finished(runId);
    if (run) this.sink.release(run.prompt, run.llmKey);
  }

  private started(runId: string, prompt: string, extraParams: Record<string, unknown> | undefined): void {
    const options = extraParams?.options;
    try {
      const llmKey = this.model._getSerializedCacheKeyParametersForCall(
        options !== null && typeof options === 'object' ? options : {},
      );
      if (this.runs.size >= LIMIT) this.runs.delete(this.runs.keys().next().value!);
      const run: Run = { prompt, llmKey, inBatch: false };
      this.runs.set(runId, run);
      if (extraParams) this.inBatch(extraParams, pair(prompt, llmKey), run);
    } catch {
      // A run whose key cannot be rebuilt is left to LangChain's own update.
    }
  }

  /**
   * LangChain reports a batch's runs one by one, all before its first lookup: the ledger is told
   * of a key's repeat as soon as its second run starts, and of every key that is in a batch of
   * two or more (batch-answers.ts) until its run ends.
   */
  private inBatch(extraParams: object, key: string, run: Run): void {
    let members = this.batches.get(extraParams);
    if (!members) {
      members = [];
      this.batches.set(extraParams, members);
    }
    if (members.some((m) => m.key === key)) this.ledger.repeat(key);
    members.push({ key, run });
    if (members.length === 2) this.enter(members[0]!);
    if (members.length >= 2) this.enter(members.at(-1)!);
  }

  private enter(member: { key: string; run: Run }): void {
    member.run.inBatch = true;
    this.ledger.enterBatch(member.key);
  }

  /** The run, if its key is one this view missed and nobody has answered yet. */
  private finished(runId: string): Run | undefined {
    const run = this.runs.get(runId);
    this.runs.delete(runId);
    if (run?.inBatch) this.ledger.leaveBatch(pair(run.prompt, run.llmKey));
    return run && this.ledger.takeMissed(run.prompt, run.llmKey) ? run : undefined;
  }
}

/** Adds (or replaces) Strata's run handler among the model's own callbacks. */
export function attachRunHandler(model: AttachableModel, ledger: RunLedger, sink: RunSink): void {
  const handler = new StrataRunHandler(model, ledger, sink);
  const existing = model.callbacks as
    | undefined
    | unknown[]
    | {
        addHandler(h: unknown, inherit?: boolean): void;
        removeHandler(h: unknown): void;
        handlers: unknown[];
      };
  if (existing === undefined || existing === null) model.callbacks = [handler];
  else if (Array.isArray(existing))
    model.callbacks = [...existing.filter((h) => !(h instanceof StrataRunHandler)), handler];
  else {
    for (const h of existing.handlers.filter((h) => h instanceof StrataRunHandler)) existing.removeHandler(h);
    existing.addHandler(handler, false);
  }
}
