// Drives Corral's OpenAI-compatible API with the official openai package,
// as TestOpenAISDK installs it. It prints one JSON object with what the SDK
// saw; the Go test compares it with the engine run in process.
//
// Environment: BASE (http://host:port), KEY (the API key), MODEL.
import OpenAI from 'openai';

const baseURL = process.env.BASE + '/v1';
const model = process.env.MODEL;
const client = new OpenAI({ apiKey: process.env.KEY, baseURL, maxRetries: 0 });
const messages = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Tell me a story.' },
];
const sampling = { temperature: 0.7, top_p: 0.9, seed: 12, max_tokens: 40 };
const out = {};

const chat = await client.chat.completions.create({ model, messages, ...sampling });
out.chat = {
  object: chat.object, model: chat.model, id: chat.id,
  content: chat.choices[0].message.content, role: chat.choices[0].message.role,
  finish: chat.choices[0].finish_reason, usage: chat.usage,
};

const stream = await client.chat.completions.create({
  model, messages, ...sampling, stream: true, stream_options: { include_usage: true },
});
const s = { content: '', chunks: 0, finish: null, usage: null, role: null };
for await (const c of stream) {
  s.chunks++;
  if (c.choices.length > 0) {
    const d = c.choices[0].delta;
    if (d.role) s.role = d.role;
    s.content += d.content ?? '';
    if (c.choices[0].finish_reason) s.finish = c.choices[0].finish_reason;
  }
  if (c.usage) s.usage = c.usage;
}
out.chatStream = s;

const prompt = 'Once upon a time';
const comp = await client.completions.create({ model, prompt, temperature: 0, max_tokens: 20 });
out.completion = { object: comp.object, text: comp.choices[0].text, finish: comp.choices[0].finish_reason, usage: comp.usage };

const cs = await client.completions.create({ model, prompt, temperature: 0, max_tokens: 20, stream: true });
let text = '';
for await (const c of cs) text += c.choices[0]?.text ?? '';
out.completionStream = { text };

out.models = (await client.models.list()).data.map((m) => m.id);

// Errors, as the SDK's classes.
async function failure(fn) {
  try {
    await fn();
    return { error: false };
  } catch (e) {
    return {
      error: true,
      auth: e instanceof OpenAI.AuthenticationError,
      badRequest: e instanceof OpenAI.BadRequestError,
      notFound: e instanceof OpenAI.NotFoundError,
      status: e.status ?? null, code: e.code ?? null, param: e.param ?? null, type: e.type ?? null,
    };
  }
}
const wrong = new OpenAI({ apiKey: 'sk-wrong', baseURL, maxRetries: 0 });
out.wrongKey = await failure(() => wrong.chat.completions.create({ model, messages }));
out.twoChoices = await failure(() => client.chat.completions.create({ model, messages, n: 2 }));
out.unknownModel = await failure(() => client.chat.completions.create({ model: 'gpt-4o', messages }));

console.log(JSON.stringify(out));
