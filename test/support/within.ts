/**
 * The one bounded wait of the integration tests: a promise raced against a timer whose message names what
 * was awaited. The default is generous (a loaded 2-core CI machine); only a failing wait ever reaches it.
 */
export const DEFAULT_WAIT_MS = 15_000;

/** Rejects after `ms` with a message naming what was awaited. */
export function within<T>(p: Promise<T>, what: string, ms = DEFAULT_WAIT_MS): Promise<T> {
  let timer!: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
