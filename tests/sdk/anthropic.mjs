// Anthropic's Messages API through the gateway, with Anthropic's own SDK.
// CASE picks what to do; the last line printed is a JSON summary that
// host/tests/front_door_anthropic.rs asserts on.
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({
  baseURL: process.env.GATEWAY_URL,
  apiKey: process.env.API_KEY,
  maxRetries: 0,
});

// A 1x1 PNG.
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

const weather = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
  },
};

/// The SSE events of a raw response, as [name, data] pairs.
async function rawEvents(response) {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((frame) => frame.trim() && !frame.startsWith(':'))
    .map((frame) => {
      const event = frame.match(/^event: (.*)$/m)?.[1];
      const data = frame.match(/^data: (.*)$/m)?.[1];
      return [event, data ? JSON.parse(data) : null];
    });
}

async function failure(promise) {
  try {
    await promise;
    return { failed: false };
  } catch (e) {
    return {
      failed: true,
      class: e.constructor.name,
      status: e.status ?? null,
      type: e.error?.error?.type ?? e.type ?? null,
      message: String(e.message),
    };
  }
}

const cases = {
  // Anthropic's Models API: the same paths as OpenAI's, in Anthropic's shape.
  async models() {
    const listed = [];
    for await (const model of client.models.list()) listed.push(model);
    const one = await client.models.retrieve('gemini-2.5-flash');
    const badName = await failure(client.models.retrieve('two words'));
    return { listed, one, badName };
  },

  async text() {
    const message = await client.messages.create({
      model: 'gemini-2.5-flash',
      max_tokens: 200,
      system: 'Be brief.',
      messages: [
        { role: 'user', content: 'Hello there' },
        { role: 'assistant', content: 'Hi.' },
        { role: 'user', content: [{ type: 'text', text: 'Say hi' }] },
      ],
    });
    const counted = await client.messages.countTokens({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user', content: 'Say hi to everyone in the room' }],
    });
    return { message, counted };
  },

  async stream() {
    const raw = await client.messages
      .create({
        model: 'gemini-2.5-flash',
        max_tokens: 200,
        stream: true,
        messages: [{ role: 'user', content: 'Tell me a story about a fox' }],
      })
      .asResponse();
    const events = await rawEvents(raw);
    const stream = client.messages.stream({
      model: 'gemini-2.5-flash',
      max_tokens: 200,
      messages: [{ role: 'user', content: 'Tell me a story about a fox' }],
    });
    let texts = 0;
    stream.on('text', () => texts++);
    const final = await stream.finalMessage();
    return {
      contentType: raw.headers.get('content-type'),
      sequence: events.map(([name]) => name),
      blockTypes: events
        .filter(([name]) => name === 'content_block_start')
        .map(([, data]) => data.content_block.type),
      typesMatchNames: events.every(([name, data]) => data?.type === name),
      final,
      texts,
    };
  },

  async thinking() {
    const whole = await client.messages.create({
      model: 'mock-thinking',
      max_tokens: 200,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [{ role: 'user', content: 'ponder' }],
    });
    const stream = client.messages.stream({
      model: 'mock-thinking',
      max_tokens: 200,
      messages: [{ role: 'user', content: 'ponder' }],
    });
    let thinkingDeltas = 0;
    stream.on('thinking', () => thinkingDeltas++);
    const streamed = await stream.finalMessage();
    return { whole, streamed, thinkingDeltas };
  },

  async tools() {
    const question = { role: 'user', content: 'What is the weather in Paris?' };
    const first = await client.messages.create({
      model: 'mock-tool-call',
      max_tokens: 200,
      tools: [weather],
      messages: [question],
    });
    const call = first.content.find((block) => block.type === 'tool_use');
    const second = await client.messages.create({
      model: 'mock-tool-call',
      max_tokens: 200,
      tools: [weather],
      messages: [
        question,
        { role: 'assistant', content: first.content },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Sunny, 21 C' }],
        },
      ],
    });
    const streamed = await client.messages
      .stream({ model: 'mock-tool-call', max_tokens: 200, tools: [weather], messages: [question] })
      .finalMessage();
    // A client that rebuilds the call from its id, name and input only: the
    // gateway remembers what the upstream attached to that id.
    const rebuilt = { type: 'tool_use', id: call.id, name: call.name, input: call.input };
    const third = await client.messages.create({
      model: 'mock-tool-call',
      max_tokens: 200,
      tools: [weather],
      messages: [
        question,
        { role: 'assistant', content: [rebuilt] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Rain' }] },
      ],
    });
    return { first, second, streamed, third };
  },

  async image() {
    const message = await client.messages.create({
      model: 'gemini-2.5-flash',
      max_tokens: 200,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
            { type: 'text', text: 'What is this?' },
          ],
        },
      ],
    });
    return { message };
  },

  async errors() {
    const ask = (fields) =>
      client.messages.create({
        model: 'gemini-2.5-flash',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'hi' }],
        ...fields,
      });
    const unknownModel = await failure(ask({ model: 'no-such-model' }));
    const malformed = await failure(ask({ messages: 'not a list' }));
    const noMaxTokens = await failure(ask({ max_tokens: undefined }));
    const badKey = await failure(
      new Anthropic({ baseURL: process.env.GATEWAY_URL, apiKey: 'sk-wrong-key-000000', maxRetries: 0 })
        .messages.create({ model: 'gemini-2.5-flash', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    );
    const midStream = await failure(
      client.messages
        .stream({ model: 'mock-midstream-error', max_tokens: 100, messages: [{ role: 'user', content: 'one two three four' }] })
        .finalMessage(),
    );
    return { unknownModel, malformed, noMaxTokens, badKey, midStream };
  },
};

const run = cases[process.env.CASE];
if (!run) throw new Error(`unknown CASE ${process.env.CASE}`);
console.log(JSON.stringify(await run()));
