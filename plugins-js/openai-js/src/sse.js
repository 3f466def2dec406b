// Server-sent events: bytes in, whole events out, however the bytes were cut.

/** Collects `data:` lines into events; feed it text as it arrives. */
export class SseDecoder {
  constructor() {
    this.pending = '';
    this.data = [];
  }

  /** The events completed by this text, each as its joined `data` string. */
  push(text) {
    this.pending += text;
    const events = [];
    let newline;
    while ((newline = this.pending.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.pending.slice(0, newline);
      const width = this.pending.startsWith('\r\n', newline) ? 2 : 1;
      // A lone `\r` at the end may be the first half of `\r\n`: wait for more.
      if (width === 1 && this.pending[newline] === '\r' && newline === this.pending.length - 1) break;
      this.pending = this.pending.slice(newline + width);
      const event = this.line(line);
      if (event !== undefined) events.push(event);
    }
    return events;
  }

  /** The event left open when the stream ended, if any. */
  finish() {
    const last = this.pending === '' ? undefined : this.line(this.pending);
    this.pending = '';
    return last ?? this.line('');
  }

  line(line) {
    if (line === '') {
      if (this.data.length === 0) return undefined;
      const event = this.data.join('\n');
      this.data = [];
      return event;
    }
    if (line.startsWith(':')) return undefined; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    return undefined;
  }
}
