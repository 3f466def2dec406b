// openai-js: a wasmgate provider plugin written in JavaScript. It serves any
// upstream that speaks OpenAI's chat completions API (OpenRouter, DeepSeek,
// Groq, a local llama.cpp server…), named by each account's `base-url`.
//
// The gateway calls the `plugin` export below (`wit/world.wit`); everything
// the plugin may touch outside itself comes through the world's imports:
// its account's secrets and settings, a log, and outgoing HTTP to the hosts
// it was granted. `build.mjs` turns this module into a component.

import { get as secret } from 'wasmgate:provider/secrets@0.2.0';
import { get as setting } from 'wasmgate:provider/config@0.2.0';
import { log } from 'wasmgate:provider/log@0.2.0';
import { now } from 'wasi:clocks/wall-clock@0.2.12';

import { ProviderError } from './errors.js';
import { HttpError, parseUrl, send } from './http.js';
import { decodeChunk, modelInfo, models, refusal, requestBody, retryAfterMs } from './openai.js';
import { SseDecoder } from './sse.js';

const VERSION = '0.2.0';
/** Redirects followed before giving up (307/308 keep the method and body). */
const MAX_REDIRECTS = 3;
/** How much of a refusal's body is read for its message. */
const ERROR_BODY_LIMIT = 64 * 1024;

/** An answer being streamed: SSE chunks from the upstream, turned into events. */
class Completion {
  constructor(response) {
    this.response = response;
    this.sse = new SseDecoder();
    this.decoder = new TextDecoder();
    this.queue = [];
    // Held back until the stream ends: usage arrives after the finish chunk.
    this.finish = undefined;
    this.done = false;
    // A failure read after some events: raised once those have been yielded.
    this.failure = undefined;
  }

  /**
   * The events read so far, waiting for the upstream until there is at least
   * one; an empty list at the end. A broken stream is an error.
   */
  next() {
    return guard(() => this.pull());
  }

  pull() {
    while (this.queue.length === 0 && !this.done) {
      try {
        this.read();
      } catch (error) {
        this.done = true;
        this.failure = error;
      }
    }
    if (this.queue.length === 0 && this.failure) throw this.failure;
    return this.queue.splice(0);
  }

  /** Reads the next piece of the body and decodes what it completes. */
  read() {
    const chunk = this.response.nextChunk();
    const text = chunk ? this.decoder.decode(chunk, { stream: true }) : this.decoder.decode();
    const events = this.sse.push(text);
    if (!chunk) {
      const last = this.sse.finish();
      if (last !== undefined) events.push(last);
    }
    for (const data of events) {
      if (this.done) break;
      if (data.trim() === '[DONE]') {
        this.end(this.finish ?? 'stop');
        break;
      }
      let parsed;
      try {
        parsed = JSON.parse(data);
      } catch {
        continue; // not a chunk (a vendor's ping): skip it
      }
      this.finish = decodeChunk(parsed, this.queue) ?? this.finish;
    }
    if (!chunk && !this.done) {
      // The body ended without `[DONE]`: fine after a finish reason, else cut off.
      if (this.finish === undefined) {
        throw new ProviderError('upstream', { status: 0, message: "the upstream's stream was cut off" });
      }
      this.end(this.finish);
    }
  }

  end(finish) {
    this.queue.push({ tag: 'finish', val: finish });
    this.done = true;
    this.response.close();
  }
}

export const plugin = guarded({
  manifest() {
    return {
      name: 'openai-js',
      version: VERSION,
      description: 'Any OpenAI-compatible chat API, from a plugin written in JavaScript',
      hosts: [], // the gateway grants the origin of each account's `base-url`
      secrets: [{ name: 'api-key', description: 'sent as `Authorization: Bearer`; none for keyless servers', required: false }],
      settings: [
        { name: 'base-url', description: 'required: the API root, e.g. https://openrouter.ai/api/v1' },
        { name: 'models', description: 'ids, comma-separated; unset: GET {base-url}/models' },
      ],
      models: [],
    };
  },

  models() {
    const configured = setting('models');
    if (configured !== undefined) return configured.split(',').map(modelInfo).filter(Boolean);
    const response = call({ method: 'GET', url: `${baseUrl()}/models` });
    return models(response.text(8 << 20));
  },

  chat(request) {
    const body = JSON.stringify(requestBody(request));
    const response = call({ method: 'POST', url: `${baseUrl()}/chat/completions`, body });
    return new Completion(response);
  },

  Completion,
});

/**
 * Calls `fn`, turning any exception into a typed error: the bindings map only
 * thrown values with a `payload` to the function's `err`, and a bug should
 * reach the gateway as `internal`, with its message, like any refusal.
 */
function guard(fn) {
  try {
    return fn();
  } catch (error) {
    throw asProviderError(error);
  }
}

/** The exported functions, each under `guard`. */
function guarded(exports) {
  const wrapped = { ...exports };
  for (const name of ['manifest', 'models', 'chat']) wrapped[name] = (...args) => guard(() => exports[name](...args));
  return wrapped;
}

function baseUrl() {
  const url = setting('base-url');
  if (!url) throw new ProviderError('internal', 'the account has no `base-url` setting');
  return url.trim().replace(/\/+$/, '');
}

/**
 * Sends with the account's key and returns a 2xx response; a refusal as its
 * typed error. Follows 307/308 redirects, without the key once they leave the
 * origin (as browsers do); the gateway still refuses hosts it did not grant.
 */
function call({ method, url, body }) {
  const key = secret('api-key')?.trim();
  const origin = parseUrl(url).origin;
  for (let hop = 0; ; hop++) {
    const headers = [['accept', method === 'POST' ? 'text/event-stream' : 'application/json']];
    if (body !== undefined) headers.push(['content-type', 'application/json']);
    if (key && parseUrl(url).origin === origin) headers.push(['authorization', `Bearer ${key}`]);
    let response;
    try {
      response = send({ method, url, headers, body });
    } catch (error) {
      throw asProviderError(error);
    }
    const location = response.header('location');
    if ((response.status === 307 || response.status === 308) && location && hop < MAX_REDIRECTS) {
      response.close();
      url = resolve(location, url);
      log('debug', `following a ${response.status} redirect to ${parseUrl(url).origin}`);
      continue;
    }
    if (response.status >= 200 && response.status < 300) return response;
    const wait = retryAfterMs(response.header('retry-after'), nowMs());
    throw refusal(response.status, response.text(ERROR_BODY_LIMIT), wait);
  }
}

/** A redirect's `Location`, absolute or from the root of the current origin. */
function resolve(location, current) {
  if (/^https?:\/\//i.test(location)) return location;
  if (location.startsWith('/') && !location.startsWith('//')) return parseUrl(current).origin + location;
  throw new ProviderError('upstream', { status: 0, message: 'the upstream redirected to a location that is not a URL' });
}

function nowMs() {
  const { seconds, nanoseconds } = now();
  return Number(seconds) * 1000 + Math.floor(nanoseconds / 1e6);
}

/** A failure to reach the upstream, in the contract's terms. */
function asProviderError(error) {
  if (error instanceof ProviderError) return error;
  if (error instanceof HttpError) {
    if (error.kind === 'timeout') return new ProviderError('timeout', error.message);
    return new ProviderError('upstream', { status: 0, message: `${error.kind}: ${error.message}` });
  }
  return new ProviderError('internal', String(error?.message ?? error));
}
