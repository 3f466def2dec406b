// OpenAI's chat completions on the wire, and the contract's types they turn
// into: the request body, the stream's chunks as events, refusals as typed
// errors, the model list. Pure functions, no host calls: `node --test` runs
// them as they are.

import { ProviderError } from './errors.js';

const ROLES = { system: 'system', user: 'user', assistant: 'assistant', tool: 'tool' };
const FINISH = { stop: 'stop', length: 'length', tool_calls: 'tool-calls', function_call: 'tool-calls', content_filter: 'content-filter' };

/** The body of `POST {base-url}/chat/completions`, always streamed with usage. */
export function requestBody(request) {
  const body = {
    model: request.model,
    messages: request.messages.map(message),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (request.stop.length > 0) body.stop = request.stop;
  if (request.tools.length > 0) body.tools = request.tools.map(tool);
  if (request.toolChoice) body.tool_choice = toolChoice(request.toolChoice);
  if (request.reasoningEffort !== undefined) body.reasoning_effort = request.reasoningEffort;
  Object.assign(body, sampling(request.sampling));
  // The caller's fields the gateway does not map (`response_format`, vendor
  // options…) pass on as they came, without overriding ours.
  const extra = request.extra ? JSON.parse(request.extra) : {};
  for (const [key, value] of Object.entries(extra)) {
    if (!(key in body)) body[key] = value;
  }
  return body;
}

/** A message: `content` a string when it is all text, else a list of parts. */
function message(m) {
  // Earlier thinking is not sent back: OpenAI-style APIs take none (DeepSeek
  // refuses a request that carries it).
  const sent = m.content.filter((part) => part.tag !== 'reasoning');
  const parts = sent.map((part) => {
    switch (part.tag) {
      case 'text': return { type: 'text', text: part.val };
      case 'image': return { type: 'image_url', image_url: { url: dataUrl(part.val) } };
      case 'image-url': return { type: 'image_url', image_url: { url: part.val } };
      case 'file': return { type: 'file', file: { file_data: dataUrl(part.val) } };
      default: throw new ProviderError('bad-request', `a content part of kind ${part.tag} cannot be sent`);
    }
  });
  const allText = parts.every((p) => p.type === 'text');
  const text = allText ? parts.map((p) => p.text).join('') : undefined;
  const out = { role: ROLES[m.role] };
  if (!allText) out.content = parts;
  else out.content = text === '' && m.toolCalls.length > 0 ? null : text;
  if (m.name !== undefined) out.name = m.name;
  if (m.toolCalls.length > 0) {
    out.tool_calls = m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  }
  if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId;
  return out;
}

function tool(t) {
  let parameters = { type: 'object', properties: {} };
  if (t.parameters !== undefined) {
    try {
      parameters = JSON.parse(t.parameters);
    } catch (error) {
      throw new ProviderError('bad-request', `the parameters of tool \`${t.name}\`: ${error.message}`);
    }
  }
  const fn = { name: t.name, parameters };
  if (t.description !== undefined) fn.description = t.description;
  return { type: 'function', function: fn };
}

function toolChoice(choice) {
  if (choice.tag === 'function') return { type: 'function', function: { name: choice.val } };
  return choice.tag; // auto, none, required
}

/** The sampling options that are set, by OpenAI's names. */
function sampling(s) {
  const out = {};
  const set = (name, value, convert = (v) => v) => {
    if (value !== undefined && value !== null) out[name] = convert(value);
  };
  set('temperature', s.temperature, decimal);
  set('top_p', s.topP, decimal);
  set('top_k', s.topK);
  set('max_tokens', s.maxTokens);
  set('seed', s.seed, Number);
  set('presence_penalty', s.presencePenalty, decimal);
  set('frequency_penalty', s.frequencyPenalty, decimal);
  return out;
}

/** A 32-bit float as the caller wrote it: 0.7, not 0.699999988079071. */
function decimal(value) {
  for (let digits = 1; digits < 10; digits++) {
    const short = Number(value.toPrecision(digits));
    if (Math.fround(short) === value) return short;
  }
  return value;
}

/**
 * One chunk of the stream as events (appended to `out`); returns its finish
 * reason, if it has one. The finish is held back by the caller and yielded
 * last, since usage comes in a chunk after it.
 */
export function decodeChunk(chunk, out) {
  if (chunk.error) {
    throw new ProviderError('upstream', { status: 0, message: `failed mid-answer: ${errorText(chunk.error)}` });
  }
  const choice = chunk.choices?.[0] ?? {};
  const delta = choice.delta ?? {};
  const reasoning = nonEmpty(delta.reasoning_content) ?? nonEmpty(delta.reasoning);
  if (reasoning) out.push({ tag: 'reasoning', val: reasoning });
  if (nonEmpty(delta.content)) out.push({ tag: 'text', val: delta.content });
  for (const annotation of delta.annotations ?? []) {
    const cited = annotation?.type === 'url_citation' && citation(annotation.url_citation);
    if (cited) out.push({ tag: 'citation', val: cited });
  }
  for (const call of delta.tool_calls ?? []) {
    out.push({
      tag: 'tool-call',
      val: {
        index: Math.min(Number(call.index ?? 0), 0xffffffff),
        id: call.id ?? undefined,
        name: call.function?.name ?? undefined,
        arguments: call.function?.arguments ?? '',
      },
    });
  }
  const counted = chunk.usage && usage(chunk.usage);
  if (counted) out.push({ tag: 'usage', val: counted });
  const finish = choice.finish_reason;
  return finish ? FINISH[finish] ?? 'other' : undefined;
}

/** A `url_citation` annotation: the source, and the span of the answer it backs. */
function citation(c) {
  if (typeof c?.url !== 'string' || c.url === '') return undefined;
  const index = (v) => (Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : undefined);
  return {
    url: c.url,
    title: typeof c.title === 'string' ? c.title : undefined,
    startIndex: index(c.start_index),
    endIndex: index(c.end_index),
  };
}

function usage(u) {
  const count = (v) => (Number.isInteger(v) && v >= 0 ? Math.min(v, 0xffffffff) : undefined);
  const prompt = count(u.prompt_tokens);
  const completion = count(u.completion_tokens);
  if (prompt === undefined || completion === undefined) return undefined;
  return {
    promptTokens: prompt,
    completionTokens: completion,
    reasoningTokens: count(u.completion_tokens_details?.reasoning_tokens),
    totalTokens: count(u.total_tokens) ?? Math.min(prompt + completion, 0xffffffff),
  };
}

/** The typed error of a non-2xx answer: OpenAI's error codes first, then the status. */
export function refusal(status, bodyText, retryAfterMs) {
  let json;
  try {
    json = JSON.parse(bodyText);
  } catch {
    json = bodyText;
  }
  const error = json?.error ?? json;
  const message = `HTTP ${status}: ${errorText(error)}`;
  const said = `${error?.code} ${error?.type} ${message}`.toLowerCase();
  const has = (word) => said.includes(word);
  const retry = { message, retryAfterMs };
  if ([400, 403, 422].includes(status) && ['content_filter', 'content_policy', 'moderation', 'flagged'].some(has)) {
    return new ProviderError('content-filtered', message);
  }
  if (status === 429 && has('insufficient_quota')) return new ProviderError('quota-exhausted', { message, retryAfterMs: undefined });
  if ([400, 422].includes(status) && has('model_not_found')) return new ProviderError('model-not-found', message);
  switch (status) {
    case 401: return new ProviderError('unauthorized', message);
    case 403: return new ProviderError('forbidden', message);
    case 429: return new ProviderError('rate-limited', retry);
    case 402: return new ProviderError('quota-exhausted', retry);
    case 404: return has('model') ? new ProviderError('model-not-found', message) : new ProviderError('upstream', { status, message });
    case 400: case 413: case 422: return new ProviderError('bad-request', message);
    case 408: case 504: return new ProviderError('timeout', message);
    default: return new ProviderError('upstream', { status, message });
  }
}

/** `GET {base-url}/models`: `{"data": [{"id": …}, …]}`. */
export function models(bodyText) {
  let json;
  try {
    json = JSON.parse(bodyText);
  } catch {
    json = undefined;
  }
  if (!Array.isArray(json?.data)) {
    throw new ProviderError('upstream', { status: 200, message: 'the model list has no `data`' });
  }
  return json.data.map((m) => modelInfo(m?.id)).filter(Boolean);
}

/** A model entry from an id; undefined for an empty one. */
export function modelInfo(id) {
  const trimmed = typeof id === 'string' ? id.trim() : '';
  return trimmed === '' ? undefined : { id: trimmed };
}

/** `Retry-After` in milliseconds: seconds, or an HTTP date from `nowMs`. */
export function retryAfterMs(header, nowMs) {
  if (!header) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return BigInt(value) * 1000n;
  const at = Date.parse(value);
  if (Number.isNaN(at) || nowMs === undefined) return undefined;
  return BigInt(Math.max(0, at - nowMs));
}

/** An error object's message (or the error itself), at most 500 characters. */
function errorText(error) {
  const text = typeof error?.message === 'string' ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
  return [...text].slice(0, 500).join('');
}

function nonEmpty(text) {
  return typeof text === 'string' && text !== '' ? text : undefined;
}

function dataUrl(media) {
  return `data:${media.mimeType};base64,${base64(media.data)}`;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a, b = 0, c = 0] = [bytes[i], bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | (b << 8) | c;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
    out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? ALPHABET[n & 63] : '=';
  }
  return out;
}
