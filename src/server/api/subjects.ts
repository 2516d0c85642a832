/**
 * The Router over HTTP: publish on a subject (reaching NATS/MQTT subscribers, capturing streams and AMQP
 * queues bound to amq.topic, exactly as any protocol's publish), and subscribe live to a subject filter as
 * Server-Sent Events or over a WebSocket.
 *
 * Live subscriptions are at most once, like every Router subscription. Buffering is bounded: when a client's
 * unsent bytes pass MAX_PENDING_BYTES the connection is dropped (the slow-consumer rule of DESIGN.md
 * "Backpressure"), never grown without limit. A subscription ends when its client goes away or the server stops.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { validateSubject, validateSubjectFilter } from '../../core/router/subject.js';
import type { Subscription } from '../../core/router/router.js';
import type { Message } from '../../core/message.js';
import { parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';
import { PayloadSchema, messageJson, payloadHeaders, payloadKey, payloadValue } from './payload.js';

/** Unsent bytes a live client may fall behind by before it is disconnected. */
export const MAX_PENDING_BYTES = 1024 * 1024;

export const SubjectParams = z.object({ subject: z.string().min(1) });

export const PublishBody = PayloadSchema.and(z.object({ replyTo: z.string().min(1).optional() }));

export async function subjectRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  /** Ends every live subscription when the server stops, so close() does not wait on open event streams. */
  const live = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...live]) end();
  });

  const filterOf = (req: FastifyRequest): string => {
    const { subject } = parseInput(SubjectParams, req.params, 'params');
    validateSubjectFilter(subject);
    broker.check(principalOf(req), 'subscribe', 'subject', subject);
    return subject;
  };

  /** Subscribes `send` to `filter`; the returned function unsubscribes and runs `close` once. */
  const subscribe = (filter: string, send: (m: Message) => void, close: () => void): (() => void) => {
    let sub: Subscription | null = null;
    const end = (): void => {
      if (!live.delete(end)) return;
      sub?.unsubscribe();
      close();
    };
    live.add(end);
    sub = broker.router.subscribe(filter, (m) => send(m));
    return end;
  };

  app.post('/api/subjects/:subject/publish', async (req) => {
    const { subject } = parseInput(SubjectParams, req.params, 'params');
    validateSubject(subject);
    const p = parseInput(PublishBody, req.body, 'body');
    const message: Message = { subject, key: payloadKey(p), value: payloadValue(p), headers: payloadHeaders(p), timestamp: Date.now() };
    if (p.replyTo !== undefined) message.replyTo = p.replyTo;
    const { deliveries, stored } = await broker.publish(principalOf(req), message);
    return { deliveries, stored };
  });

  app.get('/api/subjects/:subject/events', async (req, reply) => {
    const filter = filterOf(req);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    // A first comment flushes the headers, so the client knows the subscription is in place.
    res.write(': subscribed\n\n');
    const end = subscribe(
      filter,
      (m) => {
        if (res.writableLength > MAX_PENDING_BYTES) return end();
        res.write(`event: message\ndata: ${JSON.stringify(messageJson(m))}\n\n`);
      },
      () => res.destroy(),
    );
    res.once('close', end);
  });

  app.get('/api/subjects/:subject/ws', { websocket: true, preValidation: async (req) => void filterOf(req) }, (socket: WebSocket, req) => {
    const filter = (req.params as { subject: string }).subject;
    const end = subscribe(
      filter,
      (m) => {
        if (socket.bufferedAmount > MAX_PENDING_BYTES) return end();
        socket.send(JSON.stringify(messageJson(m)));
      },
      // 1008 policy violation for a slow consumer; on server stop or client close the socket is going anyway.
      () => (socket.readyState === socket.OPEN ? socket.close(1008, 'slow consumer or server stopping') : undefined),
    );
    socket.once('close', end);
  });
}
