/**
 * The server-wide counters, for the whole console session: one SSE stream (/api/stats/events, a sample a
 * second), falling back to polling /api/stats if the stream is refused. It lives as long as the page so the
 * Overview's charts already have history when the user comes back to it.
 */
import { ApiError, get } from './api.js';
import { openEvents, poll, type EventFeed } from './live.js';
import { RateSeries } from './rate-series.js';
import type { StatsJson } from './types.js';

export type FeedState = 'connecting' | 'live' | 'polling' | 'unavailable';

type Counter = 'messagesIn' | 'messagesOut' | 'bytesIn' | 'bytesOut';

export class StatsFeed {
  readonly rates = new RateSeries<Counter>(['messagesIn', 'messagesOut', 'bytesIn', 'bytesOut'], 300);
  latest: StatsJson | null = null;
  state: FeedState = 'connecting';
  private feed: EventFeed | null = null;
  private readonly listeners = new Set<() => void>();

  start(): void {
    this.feed = openEvents('/api/stats/events', ['stats', 'message'], (d) => this.accept(d as StatsJson), () => this.fallBackToPolling());
  }

  private fallBackToPolling(): void {
    this.feed?.stop();
    this.feed = poll(async () => {
      try {
        this.accept(await get<StatsJson>('/api/stats'), 'polling');
      } catch (err) {
        if (err instanceof ApiError && err.notAvailable) {
          this.state = 'unavailable';
          this.feed?.stop();
          this.emit();
        }
        throw err;
      }
    }, 1000);
  }

  private accept(s: StatsJson, state: FeedState = 'live'): void {
    if (typeof s?.timestamp !== 'number') return;
    this.latest = s;
    this.state = state;
    this.rates.push(s.timestamp, s);
    this.emit();
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }

  /** Calls `listener` on every sample; returns the unsubscribe. */
  onUpdate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export const statsFeed = new StatsFeed();
