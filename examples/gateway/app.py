from openai import OpenAI

# Reads OPENAI_API_KEY and OPENAI_BASE_URL from the environment. The gateway forwards the key
# upstream, and keeps the answers of callers with different keys apart.
client = OpenAI()
for attempt in ("first", "second"):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "How do I rotate my API key?"}],
    )
    print(attempt, raw.headers.get("x-strata-cache"), raw.parse().choices[0].message.content)
