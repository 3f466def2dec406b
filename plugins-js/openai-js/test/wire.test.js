// The pure parts of the plugin, in Node: `npm test`. The whole plugin is
// tested through the gateway by host/tests/js_plugin.rs.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeChunk, refusal, requestBody, retryAfterMs } from '../src/openai.js';
import { SseDecoder } from '../src/sse.js';

test('SSE events come out whole however the bytes were cut', () => {
  const stream = 'data: {"a":1}\r\n\r\n: keep-alive\n\ndata: one\ndata: two\n\ndata: [DONE]\n\n';
  for (let cut = 1; cut < stream.length; cut++) {
    const sse = new SseDecoder();
    const events = [...sse.push(stream.slice(0, cut)), ...sse.push(stream.slice(cut))];
    assert.deepEqual(events, ['{"a":1}', 'one\ntwo', '[DONE]'], `cut at ${cut}`);
  }
  const sse = new SseDecoder();
  assert.deepEqual(sse.push('data: last'), []);
  assert.equal(sse.finish(), 'last', 'an event the stream ended inside');
});

test('the request body is OpenAI JSON, streamed with usage', () => {
  const body = requestBody({
    model: 'm',
    messages: [
      { role: 'user', content: [{ tag: 'text', val: 'hi' }, { tag: 'image', val: { mimeType: 'image/png', data: new Uint8Array([1, 2, 3, 4]) } }], toolCalls: [] },
      { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'f', arguments: '{}' }] },
      { role: 'tool', content: [{ tag: 'text', val: 'done' }], toolCalls: [], toolCallId: 'c1' },
    ],
    sampling: { temperature: Math.fround(0.7), seed: 42n },
    stop: [],
    tools: [{ name: 'f', parameters: '{"type":"object"}' }],
    toolChoice: { tag: 'function', val: 'f' },
    stream: false,
    extra: '{"response_format":{"type":"json_object"},"model":"not this"}',
  });
  assert.equal(body.model, 'm');
  assert.equal(body.stream, true);
  assert.equal(body.temperature, 0.7);
  assert.equal(body.seed, 42);
  assert.deepEqual(body.messages[0].content[1], { type: 'image_url', image_url: { url: 'data:image/png;base64,AQIDBA==' } });
  assert.equal(body.messages[1].content, null);
  assert.equal(body.messages[1].tool_calls[0].function.name, 'f');
  assert.equal(body.messages[2].tool_call_id, 'c1');
  assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'f' } });
  assert.deepEqual(body.response_format, { type: 'json_object' });
});

test('chunks become events; the finish reason is returned, not yielded', () => {
  const out = [];
  const finish = decodeChunk({ choices: [{ delta: { reasoning_content: 'hm', content: 'Hi', tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: '{' } }] }, finish_reason: 'tool_calls' }] }, out);
  assert.equal(finish, 'tool-calls');
  assert.deepEqual(out.map((e) => e.tag), ['reasoning', 'text', 'tool-call']);
  const usage = [];
  decodeChunk({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 3 } }, usage);
  assert.deepEqual(usage[0].val, { promptTokens: 2, completionTokens: 3, reasoningTokens: undefined, totalTokens: 5 });
  assert.throws(() => decodeChunk({ error: { message: 'overloaded' } }, []), (e) => e.payload.tag === 'upstream');
});

test('refusals map to the contract by OpenAI code, then by status', () => {
  const tag = (status, body) => refusal(status, JSON.stringify(body), 7000n).payload.tag;
  assert.equal(tag(400, { error: { code: 'content_filter', message: 'no' } }), 'content-filtered');
  assert.equal(tag(429, { error: { code: 'insufficient_quota', message: 'pay' } }), 'quota-exhausted');
  assert.equal(tag(404, { error: { code: 'model_not_found', message: 'The model `x` does not exist' } }), 'model-not-found');
  assert.equal(tag(401, { error: { message: 'bad key' } }), 'unauthorized');
  assert.equal(tag(503, 'overloaded'), 'upstream');
  assert.deepEqual(refusal(429, '{}', 7000n).payload.val.retryAfterMs, 7000n);
  assert.equal(retryAfterMs('7'), 7000n);
  assert.equal(retryAfterMs('Thu, 01 Jan 1970 00:00:10 GMT', 4000), 6000n);
});

test('contract 0.2.0: reasoning effort goes up, earlier thinking does not, citations come back', () => {
  const body = requestBody({
    model: 'm',
    messages: [
      { role: 'assistant', content: [{ tag: 'reasoning', val: { text: 'hm', signature: 'sig' } }, { tag: 'text', val: 'Hi' }], toolCalls: [] },
    ],
    sampling: {},
    stop: [],
    tools: [],
    stream: true,
    reasoningEffort: 'high',
  });
  assert.equal(body.reasoning_effort, 'high');
  assert.equal(body.messages[0].content, 'Hi');
  const out = [];
  decodeChunk({ choices: [{ delta: { content: 'See', annotations: [
    { type: 'url_citation', url_citation: { url: 'https://example.com/a', title: 'A', start_index: 0, end_index: 3 } },
    { type: 'file_citation', file_citation: {} },
  ] } }] }, out);
  assert.deepEqual(out[1], { tag: 'citation', val: { url: 'https://example.com/a', title: 'A', startIndex: 0, endIndex: 3 } });
  assert.equal(out.length, 2);
});
