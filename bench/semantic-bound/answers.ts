/**
 * The fake model of the semantic-bound benchmark: one prose answer per cluster, worded a little
 * differently on every call, and the oracle that knows which cluster any answer it wrote belongs to.
 *
 * An answer is built from the cluster's first question (restated, as a model would) and a few
 * cluster-specific particulars drawn from a seeded generator, so two clusters about the same topic
 * get answers that share words but differ in substance. Every call varies the opening phrase,
 * sometimes adds a closing sentence, and adds whitespace and casing noise: the judge must tell
 * a reworded answer from a different one, not compare strings.
 */
import { mulberry32 } from '../../src/demo/random.js';

const OPENINGS = [
  '',
  'Sure.',
  'Good question.',
  'Here is what I know.',
  'In short:',
  'Happy to help.',
  'Let me explain.',
  'Thanks for asking.',
];
const CLOSINGS = [
  'Let me know if you need more detail.',
  'I hope this helps.',
  'Feel free to ask a follow-up question.',
];
const SUBJECTS = [
  'the first step',
  'the most common approach',
  'what usually works',
  'the safest option',
  'the cheapest route',
  'the official guidance',
  'the usual recommendation',
  'what experts suggest',
];
const ACTIONS = [
  'comparing several sources before deciding',
  'starting small and measuring the result',
  'asking someone who has done it before',
  'reading the documentation carefully',
  'keeping a written record of each attempt',
  'setting a clear deadline',
  'checking the local regulations',
  'budgeting for unexpected costs',
  'practising a little every day',
  'avoiding the popular shortcuts',
];
const UNITS = ['days', 'weeks', 'months', 'hours', 'attempts', 'dollars', 'percent', 'steps'];
const FACTORS = [
  'your experience',
  'where you live',
  'how much time you have',
  'your budget',
  'the exact version involved',
  'your long-term goals',
  'the people involved',
  'your health',
];

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}

/** The substance of a cluster's answer: the same on every call. */
function core(cluster: number, question: string): string {
  const r = mulberry32(0x5eed ^ Math.imul(cluster + 1, 2654435761));
  const asked = question.trim().replace(/[?.!\s]+$/, '');
  // Half the clusters' answers state a number: the default judge holds prose whose numbers
  // differ as unsure, and real answers to different questions do not always differ in numbers.
  const effort =
    r() < 0.5
      ? `In most cases it takes about ${2 + Math.floor(r() * 97)} ${pick(UNITS, r)}, depending mainly on ${pick(FACTORS, r)}.`
      : `How long it takes depends mainly on ${pick(FACTORS, r)}.`;
  return [
    `About "${asked}": ${pick(SUBJECTS, r)} is ${pick(ACTIONS, r)}.`,
    effort,
    `Also consider ${pick(ACTIONS, r)}, and remember that ${pick(FACTORS, r)} matters more than people expect.`,
  ].join(' ');
}

export class FakeModel {
  private readonly random: () => number;
  private readonly cores = new Map<number, string>();
  /** Every answer text written, with its cluster: the oracle. */
  private readonly written = new Map<string, number>();
  calls = 0;

  constructor(
    private readonly clusters: readonly (readonly string[])[],
    seed: number,
  ) {
    this.random = mulberry32(seed);
  }

  answer(cluster: number): string {
    this.calls++;
    let body = this.cores.get(cluster);
    if (body === undefined) {
      body = core(cluster, this.clusters[cluster]![0]!);
      this.cores.set(cluster, body);
    }
    const r = this.random;
    let text = [pick(OPENINGS, r), body, r() < 0.4 ? pick(CLOSINGS, r) : '']
      .filter(Boolean)
      .join(r() < 0.2 ? '  ' : ' ');
    const casing = r();
    if (casing < 0.1) text = text.toLowerCase();
    else if (casing < 0.15) text = text.toUpperCase();
    if (r() < 0.3) text = `${text}\n`;
    if (r() < 0.1) text = ` ${text}`;
    this.written.set(text, cluster);
    return text;
  }

  /** The cluster an answer this model wrote belongs to; undefined for any other text. */
  clusterOf(answer: string): number | undefined {
    return this.written.get(answer);
  }
}
