/**
 * Live updates: Server-Sent Events where the server has a stream of them, polling otherwise. Both return a
 * stop function; pages call it when they are left, so no request outlives its page.
 */

export interface EventFeed {
  stop(): void;
}

/**
 * Opens an EventSource on `url` and calls `onData` with the data of each event named in `events` ("message"
 * is the unnamed event) parsed as JSON. `onClosed` runs if the server refuses or ends the stream for good (404, not an SSE route).
 */
export function openEvents(url: string, events: string[], onData: (data: unknown) => void, onClosed?: () => void): EventFeed {
  const source = new EventSource(url);
  const listener = (e: Event): void => {
    try {
      onData(JSON.parse((e as MessageEvent<string>).data));
    } catch {
      // A malformed event is skipped; the next one may be fine.
    }
  };
  for (const event of events) source.addEventListener(event, listener);
  source.addEventListener('error', () => {
    // EventSource reconnects by itself after a dropped stream; CLOSED means it gave up (an HTTP error answer).
    if (source.readyState === EventSource.CLOSED) onClosed?.();
  });
  return { stop: () => source.close() };
}

/** Runs `tick` now and then every `intervalMs` after the previous run finished (never two at once). */
export function poll(tick: () => Promise<void>, intervalMs: number): EventFeed {
  let stopped = false;
  let timer: number | undefined;
  const run = async (): Promise<void> => {
    try {
      await tick();
    } catch {
      // The page shows its own error state; polling goes on so it recovers when the server does.
    }
    if (!stopped) timer = window.setTimeout(() => void run(), intervalMs);
  };
  void run();
  return {
    stop: () => {
      stopped = true;
      window.clearTimeout(timer);
    },
  };
}
