// OpenAI's Responses API through the gateway, with OpenAI's own SDK.
// CASE picks what to do; the last line printed is a JSON summary that
// host/tests/front_door_responses.rs asserts on.
import OpenAI from 'openai';

const base = process.env.GATEWAY_URL;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: process.env.API_KEY, maxRetries: 0 });

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

async function failure(promise) {
  try {
    await promise;
    return { failed: false };
  } catch (e) {
    return { failed: true, class: e.constructor.name, status: e.status ?? null, message: String(e.message) };
  }
}

const cases = {
  async text() {
    const response = await client.responses.create({
      model: 'gemini-2.5-flash',
      instructions: 'Be brief.',
      input: [
        { role: 'user', content: 'Hello there' },
        { role: 'assistant', content: 'Hi.' },
        { role: 'user', content: [{ type: 'input_text', text: 'Say hi' }] },
      ],
      max_output_tokens: 300,
    });
    return { response, outputText: response.output_text };
  },

  async stream() {
    const stream = client.responses.stream({ model: 'gemini-2.5-flash', input: 'Tell me a story about a fox' });
    const events = [];
    for await (const event of stream) events.push(event);
    const final = await stream.finalResponse();
    return {
      types: events.map((e) => e.type),
      sequence: events.map((e) => e.sequence_number),
      deltas: events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta),
      summaryDeltas: events.filter((e) => e.type === 'response.reasoning_summary_text.delta').length,
      final,
      outputText: final.output_text,
    };
  },

  async tools() {
    const question = { role: 'user', content: 'What is the weather in Paris?' };
    const first = await client.responses.create({ model: 'mock-tool-call', input: [question], tools: [weather] });
    const call = first.output.find((item) => item.type === 'function_call');
    const second = await client.responses.create({
      model: 'mock-tool-call',
      tools: [weather],
      input: [question, call, { type: 'function_call_output', call_id: call.call_id, output: 'Sunny, 21 C' }],
    });
    const stream = client.responses.stream({ model: 'mock-tool-call', input: [question], tools: [weather] });
    const argumentDeltas = [];
    stream.on('response.function_call_arguments.delta', (e) => argumentDeltas.push(e.delta));
    const streamed = await stream.finalResponse();
    return { call, secondText: second.output_text, streamed, argumentDeltas };
  },

  async image() {
    const response = await client.responses.create({
      model: 'gemini-2.5-flash',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_image', image_url: `data:image/png;base64,${PNG}` },
            { type: 'input_text', text: 'What is this?' },
          ],
        },
      ],
    });
    return { text: response.output_text };
  },

  async search() {
    const whole = await client.responses.create({
      model: 'gemini-2.5-flash',
      input: 'What is wasmgate?',
      tools: [{ type: 'web_search' }],
    });
    const stream = client.responses.stream({
      model: 'gemini-2.5-flash',
      input: 'What is wasmgate?',
      tools: [{ type: 'web_search' }],
    });
    const added = [];
    stream.on('response.output_text.annotation.added', (e) => added.push(e.annotation));
    const streamed = await stream.finalResponse();
    const annotations = (response) =>
      response.output.filter((item) => item.type === 'message').flatMap((item) => item.content[0].annotations);
    return {
      whole: annotations(whole),
      wholeText: whole.output_text,
      streamed: annotations(streamed),
      added,
    };
  },

  async errors() {
    const ask = (fields) => client.responses.create({ model: 'gemini-2.5-flash', input: 'hi', ...fields });
    const unknownModel = await failure(ask({ model: 'no-such-model' }));
    const malformed = await failure(ask({ input: 42 }));
    const stateful = await failure(ask({ previous_response_id: 'resp_123' }));
    const badKey = await failure(
      new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sk-wrong-key-000000', maxRetries: 0 }).responses.create({
        model: 'gemini-2.5-flash',
        input: 'hi',
      }),
    );
    const midStream = await failure(
      client.responses.stream({ model: 'mock-midstream-error', input: 'one two three four' }).finalResponse(),
    );
    return { unknownModel, malformed, stateful, badKey, midStream };
  },
};

const run = cases[process.env.CASE];
if (!run) throw new Error(`unknown CASE ${process.env.CASE}`);
console.log(JSON.stringify(await run()));
