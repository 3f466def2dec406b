// The contract's `provider-error`, thrown. The component's bindings turn a
// thrown value with a `payload` into the `err` of the function's result; any
// other exception is a bug and traps the instance (the gateway reports it as
// the plugin's fault).

export class ProviderError extends Error {
  /**
   * `tag` is the case of `provider-error` (unauthorized, rate-limited,
   * upstream…); `val` its payload: a message, `{ message, retryAfterMs }` or
   * `{ status, message }`. Messages never carry secrets.
   */
  constructor(tag, val) {
    super(typeof val === 'string' ? val : val.message);
    this.payload = { tag, val };
  }
}
