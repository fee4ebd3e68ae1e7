import { describe, expect, it } from 'vitest';
import { encodeEntry, newEntry } from '../../../core/entry.js';
import { deriveKey } from '../../../core/key.js';
import type { Embedder } from '../embedders/embedder.js';
import { lexicalEmbedder } from '../embedders/lexical.js';
import { answerOf } from './answer.js';
import { type AnswerText, defaultJudge, verdictOf } from './judge.js';

const judge = defaultJudge(lexicalEmbedder());
const text = (t: string, toolCalls: AnswerText['toolCalls'] = []): AnswerText => ({ text: t, toolCalls });
const verdict = (cached: AnswerText, fresh: AnswerText) =>
  judge({ question: 'q', cachedQuestion: 'q2', cached, fresh });

describe('defaultJudge', () => {
  it('calls equal answers right once case, spacing and surrounding punctuation are set aside', async () => {
    expect(await verdict(text('Paris.'), text('  paris '))).toBe('right');
    expect(await verdict(text('«北京»'), text('«北京»'))).toBe('right');
  });

  it('never folds what changes a meaning: superscripts, subscripts, leading dots, long numbers', async () => {
    expect(await verdict(text('2³'), text('23'))).toBe('wrong');
    expect(await verdict(text('H₂O₂'), text('H2O2'))).toBe('wrong');
    expect(await verdict(text('.5'), text('5'))).toBe('wrong');
    expect(await verdict(text('9400111899223197428490123'), text('9400111899223197428490999'))).toBe('wrong');
    expect(
      await verdict(text('{"account_id": 90071992547409931}'), text('{"account_id":90071992547409935}')),
    ).toBe('wrong');
    const call = (id: string) => ({ name: 'close', args: `{"account":${id}}` });
    expect(await verdict(text('', [call('90071992547409931')]), text('', [call('90071992547409935')]))).toBe(
      'wrong',
    );
  });

  it('short answers must be equal: labels and classifications that differ are wrong', async () => {
    expect(await verdict(text('positive'), text('negative'))).toBe('wrong');
    expect(await verdict(text('42'), text('43'))).toBe('wrong');
    expect(await verdict(text('The answer is yes'), text('The answer is no'))).toBe('wrong');
  });

  it('compares JSON as values (key order and spacing do not matter)', async () => {
    expect(await verdict(text('{"a":1,"b":[1,2]}'), text('```json\n{ "b": [1, 2], "a": 1 }\n```'))).toBe(
      'right',
    );
    expect(await verdict(text('{"a":1,"b":[1,2]}'), text('{"a":1,"b":[2,1]}'))).toBe('wrong');
  });

  it('tool calls must be the same calls, in any order, with the same arguments', async () => {
    const weather = { name: 'weather', args: '{"city":"Paris","unit":"c"}' };
    const time = { name: 'time', args: '{"tz":"CET"}' };
    expect(
      await verdict(
        text('', [weather, time]),
        text('', [time, { ...weather, args: '{"unit":"c","city":"Paris"}' }]),
      ),
    ).toBe('right');
    expect(
      await verdict(text('', [weather]), text('', [{ ...weather, args: '{"city":"Lyon","unit":"c"}' }])),
    ).toBe('wrong');
    expect(await verdict(text('', [weather]), text('It is sunny in Paris today, about 21 degrees.'))).toBe(
      'wrong',
    );
  });

  it('prose: near-identical is right, unrelated is wrong, different numbers are unsure', async () => {
    const base =
      'To reset your password open the account settings page, choose security, and follow the link we send to your registered email address.';
    expect(await verdict(text(base), text(`Sure! ${base}`))).toBe('right');
    expect(
      await verdict(
        text(base),
        text(
          'The Eiffel Tower was completed in 1889 for the World Fair and is made of wrought iron lattice.',
        ),
      ),
    ).toBe('wrong');
    expect(
      await verdict(
        text('Take 2 tablets every 8 hours with water, and never more than 6 tablets within one day.'),
        text('Take 4 tablets every 8 hours with water, and never more than 6 tablets within one day.'),
      ),
    ).toBe('unsure');
  });

  it('prose reworded only in its opening and sign-off is right; a short sentence with substance is not a courtesy', async () => {
    const core =
      'To move your account to another region, export your data from Settings, create the account in the new region, and import the export there.';
    expect(await verdict(text(`Sure. ${core}`), text(`${core} I hope this helps.`))).toBe('right');
    expect(
      await verdict(
        text(`Happy to help.\n\n${core}`),
        text(`Good question. ${core} Let me know if you need more detail.`),
      ),
    ).toBe('right');
    expect(await verdict(text(`${core} It is not reversible.`), text(core))).not.toBe('right');
    expect(await verdict(text(`${core} It costs $10.`), text(core))).not.toBe('right');
    expect(await verdict(text(`No. ${core}`), text(`Yes. ${core}`))).not.toBe('right');
  });

  it('prose the tier’s guards tell apart is unsure: number words, negation, plans', async () => {
    const pairs = [
      [
        'We will send you two emails to confirm the change of address on your account today.',
        'We will send you four emails to confirm the change of address on your account today.',
      ],
      [
        'Your card was charged for the upgrade, and the receipt is in the billing section of settings.',
        'Your card was not charged for the upgrade, and the receipt is in the billing section of settings.',
      ],
      [
        'Single sign-on is included in the Pro plan, and you can turn it on from the admin console.',
        'Single sign-on is included in the Enterprise plan, and you can turn it on from the admin console.',
      ],
    ];
    for (const [a, b] of pairs) expect(await verdict(text(a!), text(b!))).toBe('unsure');
  });

  it('prose the embedder cannot see whole is unsure, not right', async () => {
    const narrow: Embedder = { ...lexicalEmbedder(), fits: (t) => t.length < 100 };
    const long = 'word '.repeat(60);
    expect(
      await defaultJudge(narrow)({
        question: 'q',
        cachedQuestion: 'q',
        cached: text(`${long} yes`),
        fresh: text(`${long} no`),
      }),
    ).toBe('unsure');
  });

  it('a user judge’s booleans and anything else map to verdicts', () => {
    expect(verdictOf(true)).toBe('right');
    expect(verdictOf(false)).toBe('wrong');
    expect(verdictOf('wrong')).toBe('wrong');
    expect(verdictOf(undefined)).toBe('unsure');
    expect(verdictOf('maybe')).toBe('unsure');
  });
});

describe('answerOf', () => {
  it('reads a stored answer’s text and tool calls; not a sealed one without its keys, nor garbage', () => {
    const key = deriveKey('ns', 'llm', 'prompt');
    const entry = newEntry(
      key,
      [
        {
          message: {
            type: 'ai',
            data: { content: 'calling', tool_calls: [{ name: 'lookup', args: { id: 7 }, id: 'c1' }] },
          },
        },
      ],
      { now: 0, storePrompt: false },
    );
    const { payload } = encodeEntry(entry);
    expect(answerOf(payload, 'ns', key.hash, undefined)).toEqual({
      text: 'calling',
      toolCalls: [{ name: 'lookup', args: '{"id":7}' }],
    });
    expect(answerOf('~s1.k.AAAA', 'ns', key.hash, undefined)).toBeUndefined();
    expect(answerOf('{"v":1', 'ns', key.hash, undefined)).toBeUndefined();
  });

  it('reads tool calls from a gateway entry’s stored response body', () => {
    const key = deriveKey('ns', 'llm', 'prompt');
    const response = {
      choices: [
        { message: { content: null, tool_calls: [{ function: { name: 'f', arguments: '{"x":1}' } }] } },
      ],
    };
    const { payload } = encodeEntry(
      newEntry(key, [{ text: '', generationInfo: { response } }], { now: 0, storePrompt: false }),
    );
    expect(answerOf(payload, 'ns', key.hash, undefined)?.toolCalls).toEqual([{ name: 'f', args: '{"x":1}' }]);
  });
});
