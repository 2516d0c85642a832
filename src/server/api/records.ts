/**
 * Stream data: produce records (answered only once they are durable per the stream's fsync policy, because
 * Stream.publish resolves after the log's ack) and read them back a page at a time from an offset or a
 * timestamp. Reads are bounded twice: by `limit` records and by READ_MAX_BYTES per log read, so a page
 * never pulls a whole segment into memory.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Stream } from '../../core/stream.js';
import type { Message } from '../../core/message.js';
import { isValidSubject } from '../../core/router/subject.js';
import { ApiError, parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';
import { PayloadSchema, messageJson, payloadHeaders, payloadKey, payloadValue } from './payload.js';
import { StreamNameParams } from './streams.js';

export const MAX_RECORDS_PER_REQUEST = 1000;
export const MAX_READ_LIMIT = 1000;
const READ_MAX_BYTES = 1024 * 1024;

export const ProduceRecord = PayloadSchema.and(
  z.object({
    partition: z.int().min(0).optional(),
    timestamp: z.int().min(0).optional().describe('ms since the epoch; default now'),
  }),
);

export const ProduceBody = z.union([z.object({ records: z.array(ProduceRecord).min(1).max(MAX_RECORDS_PER_REQUEST) }), ProduceRecord]);

export const ReadQuery = z.strictObject({
  partition: z.coerce.number().int().min(0).default(0),
  offset: z.coerce.number().int().min(0).optional(),
  timestamp: z
    .union([z.coerce.number().int().min(0), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))])
    .optional()
    .describe('ms since the epoch or an ISO-8601 time: start at the first record at or after it'),
  limit: z.coerce.number().int().min(1).max(MAX_READ_LIMIT).default(100),
});

async function startOffset(s: Stream, q: z.output<typeof ReadQuery>): Promise<number> {
  if (q.offset !== undefined && q.timestamp !== undefined) {
    throw new ApiError('TRIB_HTTP_INVALID_REQUEST', 'query: give offset or timestamp, not both', 'query.offset');
  }
  if (q.offset !== undefined) return q.offset;
  const { startOffset: start, highWatermark } = s.offsets(q.partition);
  if (q.timestamp === undefined) return start;
  const found = await s.offsetForTimestamp(q.partition, q.timestamp);
  return found === null ? highWatermark : found.offset;
}

export async function recordRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  app.post('/api/streams/:name/records', async (req) => {
    const s = broker.requireStream(parseInput(StreamNameParams, req.params, 'params').name);
    const body = req.body as { records?: unknown } | null;
    // The two shapes are told apart up front so a validation error names `records.3.value`, not a union miss.
    const records =
      body !== null && typeof body === 'object' && 'records' in body
        ? parseInput(z.object({ records: z.array(ProduceRecord).min(1).max(MAX_RECORDS_PER_REQUEST) }), body, 'body').records
        : [parseInput(ProduceRecord, body, 'body')];
    broker.check(principalOf(req), 'write', 'stream', s.name);
    const now = Date.now();
    // Issued in one tick so the stream appends them as one batch (one write, one fsync).
    const messages: Message[] = records.map((r) => ({ subject: s.name, key: payloadKey(r), value: payloadValue(r), headers: payloadHeaders(r), timestamp: r.timestamp ?? now }));
    const offsets = await Promise.all(messages.map((m, i) => s.publish(m, records[i]!.partition)));
    // Interop (DESIGN.md): like a Kafka produce, a stored record also reaches live subscribers of the stream's
    // subject, after it is durable and without being captured again.
    if (isValidSubject(s.name)) for (const m of messages) broker.router.deliverLive(m);
    return { offsets };
  });

  app.get('/api/streams/:name/records', async (req) => {
    const s = broker.requireStream(parseInput(StreamNameParams, req.params, 'params').name);
    const q = parseInput(ReadQuery, req.query, 'query');
    broker.check(principalOf(req), 'read', 'stream', s.name);
    const { startOffset: logStart, highWatermark } = s.offsets(q.partition);
    let offset = await startOffset(s, q);
    if (offset < logStart) {
      throw new ApiError('TRIB_HTTP_INVALID_REQUEST', `query.offset: ${offset} is before the log start ${logStart}`, 'query.offset');
    }
    const records = [];
    while (records.length < q.limit && offset < highWatermark) {
      const page = await s.readMessages(q.partition, offset, READ_MAX_BYTES);
      // Nothing committed readable from `offset`: step over markers and aborted transactions up to the last
      // stable offset (never past it: an open transaction's records may yet commit), then stop.
      if (page.length === 0) {
        offset = Math.max(offset, Math.min(await s.lastStableOffset(q.partition), highWatermark));
        break;
      }
      for (const m of page) {
        if (records.length === q.limit || m.offset >= highWatermark) break;
        records.push({ offset: m.offset, ...messageJson(m.message) });
        offset = m.offset + 1;
      }
    }
    return { partition: q.partition, records, nextOffset: offset, highWatermark };
  });
}
