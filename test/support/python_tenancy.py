"""Asks the gateway one question as several callers, each presenting its key the way a Python
service configures the OpenAI SDK; prints each caller's cache status and answer as JSON.

usage: python_tenancy.py BASE_URL QUESTION
"""
import json
import sys

import openai

base_url, question = sys.argv[1], sys.argv[2]


def ask(**options):
    client = openai.OpenAI(base_url=base_url, max_retries=0, **options)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
    )
    return {"cache": raw.headers.get("x-strata-cache"), "content": raw.parse().choices[0].message.content}


# Every caller uses the same placeholder api_key; what tells them apart is elsewhere.
callers = {
    "goog_alice": dict(api_key="unused", default_headers={"x-goog-api-key": "AIza-alice-0001"}),
    "goog_alice_again": dict(api_key="unused", default_headers={"x-goog-api-key": "AIza-alice-0001"}),
    "goog_bob": dict(api_key="unused", default_headers={"x-goog-api-key": "AIza-bob-0002"}),
    "query_alice": dict(api_key="unused", default_query={"key": "alice-query-0001"}),
    "query_bob": dict(api_key="unused", default_query={"key": "bob-query-0002"}),
    "portkey_carol": dict(api_key="unused", default_headers={"x-portkey-api-key": "pk-carol-0003"}),
}
print(json.dumps({name: ask(**options) for name, options in callers.items()}))
