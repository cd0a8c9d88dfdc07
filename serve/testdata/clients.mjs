// clients.mjs drives the official OpenAI and Ollama JavaScript clients
// against a Glimpse server for the Go tests (clients_test.go). It reads a
// job from standard input and writes one JSON result per call to standard
// output, as an array:
//
//   {"api": "openai"|"ollama", "base": "http://127.0.0.1:PORT", "key": "…",
//    "concurrent": false,
//    "calls": [{"op": "chat"|"generate"|"models"|"tags"|"version",
//               "request": {…}, "abort_after_text": false}]}
//
// A result holds the text (streamed pieces joined), the number of pieces,
// the finish reason and token counts the API reported, the error a call
// threw (status, message and, for OpenAI, type/param/code), and when the
// call started and ended (ms since the job began), so the Go side can
// check timing. It is run from a folder whose node_modules holds the
// clients.
import OpenAI from 'openai';
import { Ollama } from 'ollama';

const job = JSON.parse(await new Promise((resolve) => {
  let s = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => { s += d; });
  process.stdin.on('end', () => resolve(s));
}));
const t0 = performance.now();
const ms = () => Math.round((performance.now() - t0) * 10) / 10;

const openai = new OpenAI({
  baseURL: job.base + '/v1',
  apiKey: job.key || 'no-key',
  maxRetries: 0, // the tests want to see 429s, not retries
  timeout: 120000,
});
const ollama = new Ollama({
  host: job.base,
  headers: job.key ? { Authorization: 'Bearer ' + job.key } : {},
});

async function openaiCall(call, r) {
  switch (call.op) {
    case 'models': {
      const page = await openai.models.list();
      r.models = page.data.map((m) => m.id);
      return;
    }
    case 'chat': break;
    default: throw new Error('unknown openai op ' + call.op);
  }
  const req = call.request;
  if (!req.stream) {
    const c = await openai.chat.completions.create(req);
    r.text = c.choices[0].message.content;
    r.finish = c.choices[0].finish_reason;
    r.model = c.model;
    r.usage = c.usage;
    r.pieces = 1;
    return;
  }
  const stream = await openai.chat.completions.create(req);
  r.text = '';
  r.pieces = 0;
  for await (const chunk of stream) {
    r.model = chunk.model;
    if (chunk.usage) r.usage = chunk.usage;
    const ch = chunk.choices[0];
    if (!ch) continue;
    if (ch.finish_reason) r.finish = ch.finish_reason;
    const piece = ch.delta?.content;
    if (piece) {
      r.text += piece;
      r.pieces++;
      if (call.abort_after_text) {
        r.aborted_at = ms();
        stream.controller.abort();
        break;
      }
    }
  }
}

async function ollamaCall(call, r) {
  switch (call.op) {
    case 'tags': r.models = (await ollama.list()).models.map((m) => m.name); return;
    case 'version': r.version = (await ollama.version()).version; return;
    case 'chat': case 'generate': break;
    default: throw new Error('unknown ollama op ' + call.op);
  }
  const req = call.request;
  const piece = (m) => (call.op === 'chat' ? m.message.content : m.response);
  const end = (m) => {
    r.finish = m.done_reason;
    r.model = m.model;
    r.usage = { prompt_tokens: m.prompt_eval_count, completion_tokens: m.eval_count };
  };
  if (!req.stream) {
    const m = await ollama[call.op](req);
    r.text = piece(m);
    r.pieces = 1;
    end(m);
    return;
  }
  const stream = await ollama[call.op](req);
  r.text = '';
  r.pieces = 0;
  for await (const m of stream) {
    const p = piece(m);
    if (p) {
      r.text += p;
      r.pieces++;
      if (call.abort_after_text) {
        r.aborted_at = ms();
        stream.abort();
        break;
      }
    }
    if (m.done) end(m);
  }
}

async function run(call) {
  const r = { start: ms() };
  try {
    await (job.api === 'openai' ? openaiCall : ollamaCall)(call, r);
  } catch (e) {
    if (e?.name === 'AbortError' || e?.constructor?.name === 'APIUserAbortError') {
      r.aborted = true;
    } else {
      r.error = {
        name: e?.constructor?.name ?? 'Error',
        status: e?.status ?? e?.status_code ?? null,
        message: String(e?.error?.message ?? e?.error ?? e?.message ?? e),
        type: e?.type ?? null,
        param: e?.param ?? null,
        code: e?.code ?? null,
        retry_after: e?.headers?.get?.('retry-after') ?? null,
      };
    }
  }
  r.end = ms();
  return r;
}

let results;
if (job.concurrent) {
  results = await Promise.all(job.calls.map(run));
} else {
  results = [];
  for (const call of job.calls) results.push(await run(call));
}
process.stdout.write(JSON.stringify(results));
