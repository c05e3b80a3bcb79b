/**
 * Waiting that an `AbortSignal` can cut short, for the waits inside a request (a token being
 * fetched, a first contact's nonce) that the caller's signal must still be able to end.
 */

/**
 * Waits for `promise`, but rejects with the signal's reason when it aborts first, and, given
 * `ms`, resolves (with undefined) once `ms` have passed. The listener and timer go when it settles.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | null | undefined, ms?: number): Promise<T> {
  let onAbort = () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  // `stop` resolves only with `ms`, early and with undefined: callers that pass `ms` wait for a Promise<void>.
  const stop = new Promise<T>((resolve, reject) => {
    if (ms !== undefined) timer = setTimeout(resolve as () => void, ms);
    if (!signal) return;
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort);
  });
  return Promise.race([promise, stop]).finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  });
}
