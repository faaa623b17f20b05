// Drives medstream's OpenAI-compatible API with the official `openai` npm
// package (tests/e2e/test_openai_api.py runs it). One JSON argument:
//   {"baseURL", "apiKey", "model", "messages", "stream", "include_usage",
//    "models": true (list models instead)}
// Prints one JSON line: {"status", "overhead", "completion" | "chunks",
// "content", "models"} or {"error": {"status", "code", "type", "message"}}.
import OpenAI from "openai";

const req = JSON.parse(process.argv[2]);
const client = new OpenAI({ baseURL: req.baseURL, apiKey: req.apiKey, maxRetries: 0 });

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

try {
  if (req.models) {
    const { data, response } = await client.models.list().withResponse();
    const ids = [];
    for await (const m of data) ids.push(m.id);
    out({ status: response.status, overhead: response.headers.get("x-medstream-overhead-ms"), models: ids });
  } else if (req.stream) {
    const params = { model: req.model, messages: req.messages, stream: true };
    if (req.include_usage) params.stream_options = { include_usage: true };
    const { data, response } = await client.chat.completions.create(params).withResponse();
    const chunks = [];
    let content = "";
    for await (const c of data) {
      chunks.push(c);
      for (const ch of c.choices) content += ch.delta?.content ?? "";
    }
    out({ status: response.status, overhead: response.headers.get("x-medstream-overhead-ms"), chunks, content });
  } else {
    const { data, response } = await client.chat.completions
      .create({ model: req.model, messages: req.messages })
      .withResponse();
    out({ status: response.status, overhead: response.headers.get("x-medstream-overhead-ms"), completion: data, content: data.choices[0].message.content });
  }
} catch (e) {
  if (e instanceof OpenAI.APIError) {
    out({ error: { status: e.status, code: e.code, type: e.type, message: e.message } });
  } else {
    out({ crash: String(e && e.stack ? e.stack : e) });
    process.exitCode = 1;
  }
}
