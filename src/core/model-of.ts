/**
 * The model of an llm string (what metrics, savings rows and spans call a model): the first `model`, `modelName`, `model_name`, `modelId` or
 * `model_id` field LangChain serialized (`model:"gpt-4o-mini"`), else `unknown`.
 */
export function modelOf(llmString: string): string {
  const match = /(?:^|,)\s*(?:model|modelName|model_name|modelId|model_id)\s*:\s*"([^"]*)"/.exec(llmString);
  if (match?.[1]) return match[1];
  // The other llmKey shapes LangChain-compatible callers use: a JSON object, or a bare model name.
  if (llmString.startsWith('{')) {
    try {
      const parsed = JSON.parse(llmString) as Record<string, unknown>;
      for (const field of ['model', 'modelName', 'model_name', 'modelId', 'model_id']) {
        if (typeof parsed[field] === 'string' && parsed[field]) return parsed[field];
      }
    } catch {
      // not JSON after all
    }
    return 'unknown';
  }
  return /^[\w.:/@-]{1,200}$/.test(llmString) ? llmString : 'unknown';
}
