"""Drives the gateway with the Python OpenAI SDK; prints one JSON object with what it saw.

usage: python_client.py BASE_URL API_KEY QUESTION [concurrent N]
"""
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import openai

base_url, api_key, question = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)

if len(sys.argv) > 5 and sys.argv[4] == "concurrent":
    # N threads stream the same request at once; each reports the text it assembled.
    def stream_once(_):
        text = ""
        for chunk in client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}], stream=True
        ):
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
        return text

    with ThreadPoolExecutor(max_workers=int(sys.argv[5])) as pool:
        print(json.dumps({"texts": list(pool.map(stream_once, range(int(sys.argv[5]))))}))
    sys.exit(0)

messages = [
    {"role": "system", "content": "You are a helpful assistant. " * 40},
    {"role": "user", "content": question},
]
tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
out = {}

raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
out["first"] = {"cache": raw.headers.get("x-strata-cache"), "content": raw.parse().choices[0].message.content}


def stored_total(model):
    """The total tokens a hit reports under `strata` (an extra field, which the SDK's models keep)."""
    return ((model.model_extra or {}).get("strata") or {}).get("usage", {}).get("total_tokens")


raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
second = raw.parse()
out["second"] = {
    "cache": raw.headers.get("x-strata-cache"),
    "content": second.choices[0].message.content,
    "usage": second.usage.total_tokens,
    "stored_usage": stored_total(second),
}

text, usage, stored_usage = "", None, None
for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}):
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
    if chunk.usage:
        usage = chunk.usage.total_tokens
        stored_usage = stored_total(chunk)
out["stream"] = {"content": text, "usage": usage, "stored_usage": stored_usage}

tool_messages = [{"role": "user", "content": question + " [tool]"}]
calls = []
for _ in range(2):
    with client.chat.completions.stream(model="gpt-4o-mini", messages=tool_messages, tools=tools) as stream:
        final = stream.get_final_completion()
    calls.append([c.function.arguments for c in final.choices[0].message.tool_calls])
out["tools"] = calls

try:
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x [fail:500]"}])
except openai.APIStatusError as error:
    out["error"] = {"status": error.status_code, "message": error.message}

try:
    client.with_options(default_headers={"cache-control": "only-if-cached"}).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question + " never asked"}]
    )
except openai.APIStatusError as error:
    out["only_if_cached"] = error.status_code

print(json.dumps(out))
