/**
 * Live reads of one stream partition: replay from an offset (or the start, the end, a time), then follow new
 * records as they are appended, as Server-Sent Events (`event: record`) or over a WebSocket (one JSON text
 * frame per record). Each record is `{partition, offset, ...message}`.
 *
 * Unlike a subject subscription this is a pull from the log, so a slow client is never dropped for falling
 * behind: reading pauses while more than MAX_PENDING_BYTES are unsent and resumes when the socket drains.
 * Memory per follower is bounded by that plus one log read (READ_MAX_BYTES). A follower ends when its client
 * goes, its stream is deleted, or the server stops.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { BrokerError, isBrokerError } from '../../core/broker-error.js';
import type { Stream } from '../../core/stream.js';
import { ApiError, parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';
import { messageJson } from './payload.js';
import { StreamNameParams } from './streams.js';
import { MAX_PENDING_BYTES } from './subjects.js';

const READ_MAX_BYTES = 256 * 1024;

export const StreamEventsQuery = z.strictObject({
  partition: z.coerce.number().int().min(0).default(0),
  offset: z.coerce.number().int().min(0).optional().describe('Start at this offset.'),
  from: z.enum(['earliest', 'latest']).optional().describe('Start at the log start or at the end (new records only; the default).'),
  timestamp: z
    .union([z.coerce.number().int().min(0), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))])
    .optional()
    .describe('Start at the first record at or after this time (ms since the epoch or ISO-8601).'),
});

type Query = z.output<typeof StreamEventsQuery>;

/** Where a follower writes; `congested` says stop reading until `drained` resolves. */
interface Sink {
  send(json: string): void;
  congested(): boolean;
  drained(): Promise<void>;
}

async function startOffset(s: Stream, q: Query): Promise<number> {
  const given = [q.offset, q.from, q.timestamp].filter((v) => v !== undefined).length;
  if (given > 1) throw new ApiError('TRIB_HTTP_INVALID_REQUEST', 'query: give one of offset, from and timestamp', 'query.offset');
  const { startOffset: start, highWatermark } = s.offsets(q.partition);
  if (q.offset !== undefined) {
    if (q.offset < start) throw new ApiError('TRIB_HTTP_INVALID_REQUEST', `query.offset: ${q.offset} is before the log start ${start}`, 'query.offset');
    return q.offset;
  }
  if (q.from === 'earliest') return start;
  if (q.timestamp !== undefined) return (await s.offsetForTimestamp(q.partition, q.timestamp))?.offset ?? highWatermark;
  return highWatermark;
}

/**
 * One 'append' listener per followed stream, fanning out to its followers: many followers of one stream must
 * not each add a listener to it (EventEmitter warns past ten, and each append would walk them all twice).
 */
class AppendWatch {
  private readonly byStream = new Map<Stream, { listener: (partition: number) => void; callbacks: Set<(partition: number) => void> }>();

  /** Calls `cb(partition)` on every append to `s` until the returned function is called. */
  watch(s: Stream, cb: (partition: number) => void): () => void {
    let entry = this.byStream.get(s);
    if (entry === undefined) {
      const callbacks = new Set<(partition: number) => void>();
      const listener = (partition: number): void => {
        for (const c of callbacks) c(partition);
      };
      entry = { listener, callbacks };
      this.byStream.set(s, entry);
      s.on('append', listener);
    }
    const e = entry;
    e.callbacks.add(cb);
    return () => {
      e.callbacks.delete(cb);
      if (e.callbacks.size === 0 && this.byStream.get(s) === e) {
        s.off('append', e.listener);
        this.byStream.delete(s);
      }
    };
  }
}

/**
 * Follows `partition` of `s` from `offset` into `sink` until the returned stop function is called (or the
 * stream fails, then `onEnd` runs). Reads only while there is something below the high watermark.
 */
function follow(appends: AppendWatch, s: Stream, partition: number, offset: number, sink: Sink, onEnd: () => void): () => void {
  let stopped = false;
  let pumping = false;
  let again = false;
  const pump = async (): Promise<void> => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        while (!stopped && offset < s.offsets(partition).highWatermark) {
          if (sink.congested()) await sink.drained();
          if (stopped) return;
          let page;
          try {
            page = await s.readMessages(partition, offset, READ_MAX_BYTES);
          } catch (err) {
            // Retention deleted what we were about to read: carry on from the new log start.
            const start = s.offsets(partition).startOffset;
            if (isBrokerError(err, 'TRIB_OFFSET_OUT_OF_RANGE') && offset < start) {
              offset = start;
              continue;
            }
            throw err;
          }
          // Nothing committed (markers, aborted transactions): step over them, but never past an open transaction.
          if (page.length === 0) {
            offset = Math.max(offset, await s.lastStableOffset(partition));
            break;
          }
          for (const m of page) {
            if (stopped) return;
            sink.send(JSON.stringify({ partition, offset: m.offset, ...messageJson(m.message) }));
            offset = m.offset + 1;
          }
        }
      } while (again && !stopped);
    } catch {
      // The stream was deleted or the broker is closing: the client learns it from the closed connection.
      stop();
      onEnd();
    } finally {
      pumping = false;
    }
  };
  const unwatch = appends.watch(s, (p) => {
    if (p === partition) void pump();
  });
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    unwatch();
  };
  void pump();
  return stop;
}

export async function streamEventRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  const live = new Set<() => void>();
  const appends = new AppendWatch();
  app.addHook('preClose', async () => {
    for (const end of [...live]) end();
  });

  /** Validates the request; answers 400/403/404 before any upgrade or event-stream header. */
  const open = async (req: FastifyRequest): Promise<{ s: Stream; partition: number; offset: number }> => {
    const s = broker.requireStream(parseInput(StreamNameParams, req.params, 'params').name);
    const q = parseInput(StreamEventsQuery, req.query, 'query');
    broker.check(principalOf(req), 'read', 'stream', s.name);
    if (q.partition >= s.partitionCount) throw new BrokerError('TRIB_PARTITION_NOT_FOUND', `stream '${s.name}' has no partition ${q.partition}`);
    return { s, partition: q.partition, offset: await startOffset(s, q) };
  };

  /** Registers a follower so server stop ends it; the returned function ends it once. */
  const track = (stop: () => void, close: () => void): (() => void) => {
    const end = (): void => {
      if (!live.delete(end)) return;
      stop();
      close();
    };
    live.add(end);
    return end;
  };

  app.get('/api/streams/:name/events', async (req, reply) => {
    const { s, partition, offset } = await open(req);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': subscribed\n\n');
    const sink: Sink = {
      send: (json) => void res.write(`event: record\ndata: ${json}\n\n`),
      congested: () => res.writableLength > MAX_PENDING_BYTES,
      drained: () => new Promise((resolve) => {
        res.once('drain', resolve);
        res.once('close', resolve);
      }),
    };
    let end = (): void => undefined;
    const stop = follow(appends, s, partition, offset, sink, () => end());
    end = track(stop, () => res.destroy());
    res.once('close', end);
  });

  const pending = new WeakMap<FastifyRequest, { s: Stream; partition: number; offset: number }>();
  app.get(
    '/api/streams/:name/ws',
    {
      websocket: true,
      preValidation: async (req) => {
        pending.set(req, await open(req));
      },
    },
    (socket: WebSocket, req) => {
      const start = pending.get(req)!;
      pending.delete(req);
      const sink: Sink = {
        send: (json) => socket.send(json),
        congested: () => socket.bufferedAmount > MAX_PENDING_BYTES,
        // ws calls a send's callback once the frame is written out: an empty ping marks the point to wait for.
        drained: () => new Promise((resolve) => socket.ping(undefined, undefined, () => resolve())),
      };
      let end = (): void => undefined;
      const stop = follow(appends, start.s, start.partition, start.offset, sink, () => end());
      end = track(stop, () => (socket.readyState === socket.OPEN ? socket.close(1001, 'stream gone or server stopping') : undefined));
      socket.once('close', end);
    },
  );
}
