import { describe, expect, it } from 'vitest';
import { splitRequest } from './request.js';

describe('splitting a request into context and question', () => {
  it('reads getBufferString transcripts, custom roles included', () => {
    expect(splitRequest('System: be brief\nHuman: hi\nAI: hello\nHuman: what is 2+2?\nsecond line')).toEqual({
      query: 'what is 2+2?\nsecond line',
      context: 'System: be brief\nHuman: hi\nAI: hello\nHuman: \u0000',
    });
    expect(splitRequest('system: be brief\nuser: what is 2+2?').query).toBe('what is 2+2?');
    // What follows the last user message (a tool call and its result) is context, compared exactly.
    expect(splitRequest('Human: weather?\nAI: calling\nTool: 21C')).toEqual({
      query: 'weather?',
      context: 'Human: \u0000\nAI: calling\nTool: 21C',
    });
  });

  it('an LLM prompt is all question; a withCache request ending with a tool message has none', () => {
    expect(splitRequest('Translate to French: cheese')).toEqual({
      query: 'Translate to French: cheese',
      context: '',
    });
    const toolLast = JSON.stringify([
      { type: 'human', content: 'weather?' },
      { type: 'tool', content: '21C', tool_call_id: 't1' },
    ]);
    expect(splitRequest(toolLast).query).toBe('');
  });
});
