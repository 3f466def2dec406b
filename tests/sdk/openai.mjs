// The OpenAI chat surface (`/v1/chat/completions`, `/v1/models`) through the
// gateway, with OpenAI's own SDK. CASE picks what to do; the last line
// printed is a JSON summary that host/tests/api.rs asserts on.
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: `${process.env.GATEWAY_URL}/v1`, apiKey: process.env.API_KEY, maxRetries: 0 });

const cases = {
  async models() {
    const listed = [];
    for await (const model of client.models.list()) listed.push(model.id);
    const declared = await client.models.retrieve('gemini-2.5-flash');
    // Not declared by any plugin, but `[models]` routes every name.
    const routed = await client.models.retrieve('gemini-next-preview');
    return { listed, declared, routed };
  },

  async chat() {
    const messages = [{ role: 'user', content: 'Say hi' }];
    const completion = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages });
    const stream = await client.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamed = '';
    let usage = null;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    return { completion, streamed, usage };
  },
};

const run = cases[process.env.CASE];
if (!run) throw new Error(`unknown CASE ${process.env.CASE}`);
console.log(JSON.stringify(await run()));
