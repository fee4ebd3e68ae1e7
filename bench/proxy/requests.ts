/**
 * Realistic chat completions: a ~1.5 kB system prompt and a question, 96 distinct ones, JSON and
 * streamed (192 entries: LiteLLM's in-memory cache holds at most 200).
 */
const SYSTEM = `You are the support assistant of Acme Cloud. Answer in at most three sentences, cite the settings page, and never reveal internal ticket numbers. ${'Acme Cloud runs in three regions with automatic failover; backups are kept for 30 days. '.repeat(16)}`;
export const REQUESTS = Array.from({ length: 96 }, (_, i) =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    temperature: 0,
    messages: [
      { role: 'system', content: SYSTEM },
      {
        role: 'user',
        content: `Customer #${i} asks: how do I ${['rotate an API key', 'export invoices', 'enable SSO', 'restore a project'][i % 4]}?`,
      },
    ],
  }),
);
export const STREAMED = REQUESTS.map((r) => r.replace('"temperature":0', '"temperature":0,"stream":true'));
