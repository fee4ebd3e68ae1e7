/**
 * The demo's bundled workload: support-desk questions with the repetition real traffic has. A
 * few questions are asked very often, most rarely (a Zipf distribution, s = 1.1), drawn with a
 * seeded generator so every run asks the same sequence.
 */
import { mulberry32 } from './random.js';

const SUBJECTS = [
  'reset my password',
  'change the email on my account',
  'export my data as CSV',
  'enable two-factor authentication',
  'cancel my subscription',
  'upgrade to the team plan',
  'add a teammate to my workspace',
  'remove a teammate from my workspace',
  'connect the Slack integration',
  'set up single sign-on',
  'get an invoice for last month',
  'change my billing currency',
  'restore a deleted project',
  'increase my API rate limit',
  'rotate my API key',
  'delete my account',
  'change the time zone of reports',
  'schedule a weekly report',
  'share a dashboard publicly',
  'import contacts from a spreadsheet',
  'set up a custom domain',
  'configure webhooks',
  'find my order history',
  'request a refund',
  'update my payment card',
  'turn off email notifications',
  'use the mobile app offline',
  'migrate from the legacy API',
  'set data retention to 30 days',
  'download the audit log',
  'merge two accounts',
  'transfer ownership of a project',
  'localize the widget into Chinese',
  'embed the chat widget on my site',
  'filter reports by region',
  'archive old conversations',
  'set working hours for my team',
  'create a saved search',
  'verify my domain for email sending',
  'pause my subscription for a month',
];

const FORMS = [
  (s: string) => `How do I ${s}?`,
  (s: string) => `What are the steps to ${s}?`,
  (s: string) => `Is it possible to ${s} from the settings page?`,
  (s: string) => `I need to ${s} today. Can you walk me through it?`,
];

export const DEMO_PROMPTS: readonly string[] = SUBJECTS.flatMap((s) => FORMS.map((f) => f(s)));

/** `count` prompts drawn from DEMO_PROMPTS with Zipf-distributed popularity. */
export function demoWorkload(count: number, seed = 42): string[] {
  const rng = mulberry32(seed);
  // Shuffle which prompts are popular, then weight rank r by 1 / r^1.1.
  const order = [...DEMO_PROMPTS];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const weights = order.map((_, r) => 1 / (r + 1) ** 1.1);
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const w of weights) {
    acc += w / total;
    cumulative.push(acc);
  }
  return Array.from({ length: count }, () => {
    const x = rng();
    const index = cumulative.findIndex((c) => c >= x);
    return order[index === -1 ? order.length - 1 : index]!;
  });
}
