// The Gemini API through the gateway, with Google's own SDK (@google/genai).
// CASE picks what to do; the last line printed is a JSON summary that
// host/tests/front_door_gemini.rs asserts on.
import { GoogleGenAI } from '@google/genai';

const base = process.env.GATEWAY_URL;
const ai = new GoogleGenAI({ apiKey: process.env.API_KEY, httpOptions: { baseUrl: base } });

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

const weather = {
  functionDeclarations: [
    {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } }, required: ['city'] },
    },
  ],
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
  // The same call with the SDK told to use the `v1` API.
  async v1() {
    const v1 = new GoogleGenAI({ apiKey: process.env.API_KEY, httpOptions: { baseUrl: base, apiVersion: 'v1' } });
    const response = await v1.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Say hi' });
    return { text: response.text, finishReason: response.candidates[0].finishReason };
  },

  async text() {
    const response = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: [
        { role: 'user', parts: [{ text: 'Hello there' }] },
        { role: 'model', parts: [{ text: 'Hi.' }] },
        { role: 'user', parts: [{ text: 'Say hi' }] },
      ],
      config: { systemInstruction: 'Be brief.', temperature: 0.5, maxOutputTokens: 300 },
    });
    const counted = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents: 'Say hi to everyone in the room' });
    const names = [];
    for await (const model of await ai.models.list()) names.push(model.name);
    return {
      text: response.text,
      thoughts: response.candidates[0].content.parts.filter((p) => p.thought).map((p) => p.text),
      finishReason: response.candidates[0].finishReason,
      usage: response.usageMetadata,
      modelVersion: response.modelVersion,
      counted: counted.totalTokens,
      names,
    };
  },

  async stream() {
    const chunks = [];
    for await (const chunk of await ai.models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: 'Tell me a story about a fox',
    })) {
      chunks.push(chunk);
    }
    // The JSON-array form (no alt=sse), read raw, with the key in ?key=.
    const raw = await fetch(
      `${base}/v1beta/models/gemini-2.5-flash:streamGenerateContent?key=${encodeURIComponent(process.env.API_KEY)}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ parts: [{ text: 'Tell me a story about a fox' }] }] }),
      },
    );
    const array = JSON.parse(await raw.text());
    const textOf = (list) =>
      list
        .flatMap((c) => c.candidates?.[0]?.content?.parts ?? [])
        .filter((p) => p.text && !p.thought)
        .map((p) => p.text)
        .join('');
    return {
      pieces: chunks.filter((c) => c.text).length,
      text: chunks.map((c) => c.text ?? '').join(''),
      lastFinish: chunks.at(-1).candidates[0].finishReason,
      lastUsage: chunks.at(-1).usageMetadata,
      arrayStatus: raw.status,
      arrayType: raw.headers.get('content-type'),
      arrayLength: array.length,
      arrayText: textOf(array),
    };
  },

  async tools() {
    const question = { role: 'user', parts: [{ text: 'What is the weather in Paris?' }] };
    const first = await ai.models.generateContent({
      model: 'mock-tool-call',
      contents: [question],
      config: { tools: [weather] },
    });
    const call = first.functionCalls[0];
    const callPart = first.candidates[0].content.parts.find((p) => p.functionCall);
    const second = await ai.models.generateContent({
      model: 'mock-tool-call',
      contents: [
        question,
        first.candidates[0].content,
        { role: 'user', parts: [{ functionResponse: { name: call.name, response: { forecast: 'Sunny, 21 C' } } }] },
      ],
      config: { tools: [weather] },
    });
    const streamed = [];
    for await (const chunk of await ai.models.generateContentStream({
      model: 'mock-tool-call',
      contents: [question],
      config: { tools: [weather] },
    })) {
      streamed.push(...(chunk.functionCalls ?? []));
    }
    return {
      call,
      signature: callPart.thoughtSignature ?? null,
      firstFinish: first.candidates[0].finishReason,
      secondText: second.text,
      streamed,
    };
  },

  async image() {
    const response = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'image/png', data: PNG } }, { text: 'What is this?' }] }],
    });
    return { text: response.text };
  },

  async errors() {
    const ask = (fields) => ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi', ...fields });
    const unknownModel = await failure(ask({ model: 'no-such-model' }));
    const malformed = await failure(ask({ contents: [{ role: 'wizard', parts: [{ text: 'hi' }] }] }));
    const badKey = await failure(
      new GoogleGenAI({ apiKey: 'wrong-key-000000', httpOptions: { baseUrl: base } }).models.generateContent({
        model: 'gemini-2.5-flash',
        contents: 'hi',
      }),
    );
    const midStream = await failure(
      (async () => {
        for await (const _ of await ai.models.generateContentStream({ model: 'mock-midstream-error', contents: 'one two three four' })) {
        }
      })(),
    );
    return { unknownModel, malformed, badKey, midStream };
  },
};

const run = cases[process.env.CASE];
if (!run) throw new Error(`unknown CASE ${process.env.CASE}`);
console.log(JSON.stringify(await run()));
