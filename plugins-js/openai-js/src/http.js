// A small blocking HTTP client over `wasi:http/outgoing-handler`, the only way
// out of the sandbox. The gateway decides where a request may go: a host the
// plugin was not granted is refused on the response future (`HTTP-request-denied`),
// and never contacted.
//
// Blocking is right here: each request runs in its own plugin instance, and the
// gateway turns every wait into an async wait on its side.

import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import { Fields, OutgoingBody, OutgoingRequest } from 'wasi:http/types@0.2.12';

/** Largest write `blocking-write-and-flush` accepts. */
const WRITE_CHUNK = 4096;
/** How much to ask for per read. */
const READ_CHUNK = 64n * 1024n;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Why a request got no answer: `kind` is denied, timeout, connect or protocol. */
export class HttpError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/**
 * Sends `{ method, url, headers: [[name, value]…], body: string }` and waits
 * for the response head. The body streams in through the returned response.
 */
export function send({ method = 'GET', url, headers = [], body }) {
  const target = parseUrl(url);
  let fields;
  try {
    fields = Fields.fromList(headers.map(([name, value]) => [name.toLowerCase(), encoder.encode(value)]));
  } catch (error) {
    throw new HttpError('protocol', `a header is not valid: ${describe(error)}`);
  }
  const request = new OutgoingRequest(fields);
  request.setMethod({ tag: method.toLowerCase() });
  request.setScheme({ tag: target.scheme });
  request.setAuthority(target.authority);
  request.setPathWithQuery(target.pathWithQuery);
  const outgoingBody = request.body();

  let future;
  try {
    future = handle(request, undefined);
  } catch (error) {
    throw fromErrorCode(error);
  }
  // The body is written after `handle()`: a denial shows on the future, so a
  // write error is only reported once the future said nothing worse.
  let written = null;
  try {
    writeBody(outgoingBody, body === undefined ? new Uint8Array() : encoder.encode(body));
  } catch (error) {
    written = error;
  }
  const pollable = future.subscribe();
  pollable.block();
  dispose(pollable);
  const outcome = future.get();
  if (outcome === undefined || outcome.tag === 'err') {
    throw new HttpError('protocol', 'the response future was lost');
  }
  if (outcome.val.tag === 'err') {
    throw fromErrorCode(outcome.val.val);
  }
  if (written) {
    throw new HttpError('protocol', `writing the request body: ${describe(written)}`);
  }
  return new Response(outcome.val.val);
}

function writeBody(outgoingBody, bytes) {
  const stream = outgoingBody.write();
  for (let at = 0; at < bytes.length; at += WRITE_CHUNK) {
    stream.blockingWriteAndFlush(bytes.subarray(at, at + WRITE_CHUNK));
  }
  // The stream is a child of the body: it must go before the body finishes.
  dispose(stream);
  OutgoingBody.finish(outgoingBody, undefined);
}

/** A response whose body streams in. */
export class Response {
  constructor(incoming) {
    this.status = incoming.status();
    const headers = incoming.headers();
    this.headers = headers.entries().map(([name, value]) => [name.toLowerCase(), decoder.decode(value)]);
    dispose(headers);
    this.incoming = incoming;
    this.body = incoming.consume();
    this.stream = this.body.stream();
  }

  /** The first value of a header, or undefined. */
  header(name) {
    const wanted = name.toLowerCase();
    return this.headers.find(([key]) => key === wanted)?.[1];
  }

  /** The next bytes of the body as they arrive; null at its end. */
  nextChunk() {
    while (this.stream) {
      try {
        const bytes = this.stream.blockingRead(READ_CHUNK);
        if (bytes.length > 0) return bytes;
      } catch (error) {
        this.close();
        if (error?.payload?.tag === 'closed') return null;
        throw new HttpError('protocol', `the body broke off: ${describe(error?.payload?.val ?? error)}`);
      }
    }
    return null;
  }

  /** The whole body as text, read up to `limit` bytes. */
  text(limit = 1 << 20) {
    const chunks = [];
    let size = 0;
    for (let chunk = this.nextChunk(); chunk && size < limit; chunk = this.nextChunk()) {
      chunks.push(chunk);
      size += chunk.length;
    }
    this.close();
    const whole = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      whole.set(chunk, at);
      at += chunk.length;
    }
    return decoder.decode(whole.subarray(0, limit));
  }

  /** Lets go of the connection; children before parents. */
  close() {
    if (this.stream) dispose(this.stream);
    if (this.body) dispose(this.body);
    this.stream = null;
    this.body = null;
  }
}

/** Splits `http(s)://authority/path?query`. */
export function parseUrl(url) {
  const match = /^(https?):\/\/([^/?#]+)([^#]*)/i.exec(url);
  if (!match || match[2].includes('@')) {
    throw new HttpError('protocol', `not an http(s) URL: ${JSON.stringify(url)}`);
  }
  const path = match[3] === '' ? '/' : match[3].startsWith('?') ? `/${match[3]}` : match[3];
  const scheme = match[1].toLowerCase() === 'https' ? 'HTTPS' : 'HTTP';
  return { scheme, authority: match[2], pathWithQuery: path, origin: `${match[1].toLowerCase()}://${match[2].toLowerCase()}` };
}

function fromErrorCode(error) {
  const code = error?.payload ?? error;
  const tag = code?.tag ?? String(code);
  if (tag === 'HTTP-request-denied') {
    return new HttpError('denied', 'the gateway did not grant this plugin that host');
  }
  if (/timeout/i.test(tag)) return new HttpError('timeout', tag);
  if (/^(DNS|destination|connection-refused|TLS)/i.test(tag)) return new HttpError('connect', tag);
  return new HttpError('protocol', tag);
}

function describe(error) {
  if (error?.toDebugString) return error.toDebugString();
  if (error instanceof Error) return error.message;
  return JSON.stringify(error);
}

/** Drops a wasi resource now rather than at garbage collection. */
function dispose(resource) {
  const drop = resource?.[Symbol.dispose] ?? resource?.[Symbol.for('dispose')];
  if (drop) drop.call(resource);
}
