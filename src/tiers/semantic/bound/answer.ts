/**
 * An answer as the judge compares it: its text and its tool calls, read from a stored payload
 * (the entry envelope, core/entry.ts; sealed ones opened with the call's keys).
 */

import { entryAad } from '../../../core/encryption/at-rest.js';
import { isSealed, type Sealer } from '../../../core/encryption/keyring.js';
import { decodeAnswer, generationText, type StoredGenerationData } from '../../../core/entry.js';

export interface ToolCallText {
  name: string;
  /** The arguments as JSON text, as the model gave them. */
  args: string;
}

export interface AnswerText {
  text: string;
  toolCalls: ToolCallText[];
}

/**
 * The answer in a stored payload; undefined when it cannot be read (sealed under keys this call
 * does not have, another version, corrupt): no label is drawn from what cannot be read.
 */
export function answerOf(
  payload: string,
  namespace: string,
  hash: string,
  sealer: Sealer | undefined,
): AnswerText | undefined {
  const plain = isSealed(payload) ? sealer?.open(payload, entryAad(namespace, hash)) : payload;
  if (plain === undefined) return undefined;
  const answer = decodeAnswer(plain);
  if (!answer) return undefined;
  const texts: string[] = [];
  const toolCalls: ToolCallText[] = [];
  for (const g of answer.gens) {
    texts.push(generationText(g));
    toolCalls.push(...toolCallsOf(g));
  }
  return { text: texts.join('\n'), toolCalls };
}

/**
 * A generation's tool calls: LangChain's parsed `tool_calls`, else OpenAI's raw ones; for the
 * gateway's entries, those of the stored response body (OpenAI chat and Responses, Anthropic).
 */
function toolCallsOf(g: StoredGenerationData): ToolCallText[] {
  const response = g.generationInfo?.response;
  if (response && typeof response === 'object') return responseToolCalls(response as ResponseBody);
  const data = g.message?.data;
  if (!data) return [];
  const parsed = data.tool_calls;
  if (Array.isArray(parsed) && parsed.length > 0)
    return parsed.map((c: { name?: unknown; args?: unknown }) => ({
      name: String(c?.name ?? ''),
      args: JSON.stringify(c?.args ?? {}),
    }));
  const raw = (data.additional_kwargs as { tool_calls?: unknown } | undefined)?.tool_calls;
  if (Array.isArray(raw))
    return raw.map((c: { function?: { name?: unknown; arguments?: unknown } }) => ({
      name: String(c?.function?.name ?? ''),
      args: String(c?.function?.arguments ?? ''),
    }));
  return [];
}

interface ResponseBody {
  choices?: Array<{
    message?: { tool_calls?: Array<{ function?: { name?: unknown; arguments?: unknown } }> };
  }>;
  content?: Array<{ type?: unknown; name?: unknown; input?: unknown }>;
  output?: Array<{ type?: unknown; name?: unknown; arguments?: unknown }>;
}

function responseToolCalls(body: ResponseBody): ToolCallText[] {
  const calls: ToolCallText[] = [];
  for (const choice of Array.isArray(body.choices) ? body.choices : [])
    for (const c of Array.isArray(choice?.message?.tool_calls) ? choice.message.tool_calls : [])
      calls.push({ name: String(c?.function?.name ?? ''), args: String(c?.function?.arguments ?? '') });
  for (const block of Array.isArray(body.content) ? body.content : [])
    if (block?.type === 'tool_use')
      calls.push({ name: String(block.name ?? ''), args: JSON.stringify(block.input ?? {}) });
  for (const item of Array.isArray(body.output) ? body.output : [])
    if (item?.type === 'function_call')
      calls.push({ name: String(item.name ?? ''), args: String(item.arguments ?? '') });
  return calls;
}
