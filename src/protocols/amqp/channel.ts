/**
 * AmqpChannel: one channel of an AmqpConnection — exchange, queue, basic and confirm classes over the core
 * (ExchangeRegistry via the Broker, QueueRegistry, Cursor). A queue here is the core's queue: a workqueue stream
 * plus a shared cursor; a consumer is a Cursor consumer whose context is a ChannelConsumer.
 *
 * Ordering: content frames are assembled synchronously as they arrive; every complete method then runs on one
 * promise chain per channel, so a publish sent right after a queue.declare (tutorial 1 does not wait) sees the
 * queue. Appends are not awaited on the chain: publisher confirms are sent when the appends of all routed queues
 * resolve (durable per the stream's fsync policy), in sequence order, with `multiple` for runs.
 *
 * Delivery tags are per channel, start at 1 and are shared by basic.deliver and basic.get-ok. Unacked
 * deliveries are remembered per tag; closing the channel detaches its consumers (the cursor requeues their
 * in-flight records, marked redelivered) and nacks with requeue what basic.get took.
 *
 * Errors: soft AmqpErrors close the channel (channel.close, then only close/close-ok are read until the client's
 * close-ok); hard ones and codec errors go to the connection.
 */
import { randomBytes } from 'node:crypto';
import type { Consumer } from '../../core/cursor/dispatch.js';
import type { Delivery } from '../../core/cursor/cursor-state.js';
import type { DeliveryTarget } from '../../core/broker.js';
import { EXCHANGE_TYPES, type ExchangeType } from '../../core/exchange.js';
import { QUEUE_HEADERS, type Queue } from '../../core/queue-registry.js';
import type { Message } from '../../core/message.js';
import { isValidSubject } from '../../core/router/subject.js';
import type { RecordHeader } from '../../storage/record-batch.js';
import {
  FrameType,
  METHODS,
  basicContentHeader,
  decodeContentHeader,
  decodeMethod,
  encodeContentHeader,
  encodeMethodWithContent,
  encodeMethodWithRawContent,
  fieldTableToObject,
  type BasicProperties,
  type FieldTable,
  type Method,
  type MethodArgs,
} from './codec/index.js';
import type { AmqpConnection } from './connection.js';
import { AmqpError, toAmqpError } from './reply-codes.js';

/** A basic.consume: the Cursor's consumer context. */
class ChannelConsumer implements DeliveryTarget {
  consumer: Consumer | null = null;
  constructor(
    readonly channel: AmqpChannel,
    readonly tag: string,
    readonly queue: Queue,
    readonly noAck: boolean,
    readonly exclusive: boolean,
  ) {}
  deliver(delivery: Delivery): boolean {
    return this.channel.deliver(this, delivery);
  }
}

interface Unacked {
  queue: Queue;
  delivery: Delivery;
  /** null for basic.get. */
  consumerTag: string | null;
  /** Its consumer was cancelled (the cursor requeued it): an ack is accepted and ignored. */
  stale: boolean;
}

/** A basic.publish being assembled from its method, header and body frames. */
interface PendingContent {
  args: MethodArgs['BasicPublish'];
  header: Buffer | null;
  properties: BasicProperties | null;
  bodySize: number;
  chunks: Buffer[];
  have: number;
}

const EMPTY = Buffer.alloc(0);
/** RabbitMQ's direct reply-to pseudo-queue. */
const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

export class AmqpChannel {
  private state: 'open' | 'closing' | 'closed' = 'open';
  private work: Promise<void> = Promise.resolve();
  private content: PendingContent | null = null;
  private nextTag = 1;
  private readonly unacked = new Map<number, Unacked>();
  private readonly consumers = new Map<string, ChannelConsumer>();
  private prefetchCount = 0;
  /** Last queue declared on the channel: '' in queue.bind/consume/… means it (AMQP 0-9-1). */
  private lastQueue = '';
  // Publisher confirms.
  private confirm = false;
  private publishSeq = 0;
  private confirmFloor = 0;
  private readonly confirmDone = new Map<number, boolean>();
  /** Direct reply-to: this channel's pseudo-consumer of `amq.rabbitmq.reply-to` (token and consumer tag). */
  private replyTo: { token: string; tag: string } | null = null;
  /** tx.select mode: publishes and acks buffered until tx.commit (null when not transactional). */
  private tx: Array<() => void> | null = null;
  /** Appends of this channel's publishes not yet resolved. */
  private readonly appends = new Set<Promise<unknown>>();

  constructor(
    readonly conn: AmqpConnection,
    readonly id: number,
  ) {}

  // --- input ------------------------------------------------------------------------------------------

  /** One frame for this channel. Throws only what must close the connection (codec errors, hard AmqpErrors). */
  onFrame(type: number, payload: Buffer): void {
    if (this.state === 'closing') {
      // After sending channel.close, only close/close-ok are read (§2.2.4); content frames are dropped.
      if (type !== FrameType.METHOD) return;
      const m = decodeMethod(payload);
      if (m.name === 'ChannelCloseOk') this.finish();
      else if (m.name === 'ChannelClose') {
        this.conn.sendMethod(this.id, 'ChannelCloseOk', {});
        this.finish();
      }
      return;
    }
    if (this.state === 'closed') return;
    switch (type) {
      case FrameType.METHOD: {
        if (this.content !== null) throw new AmqpError('UNEXPECTED_FRAME', `expected content header for class 60, got a method frame on channel ${this.id}`, 60, 40);
        const m = decodeMethod(payload);
        if (m.name === 'BasicPublish') {
          this.content = { args: m.args, header: null, properties: null, bodySize: 0, chunks: [], have: 0 };
          return;
        }
        this.onMethod(m);
        return;
      }
      case FrameType.HEADER: {
        const c = this.content;
        if (c === null || c.header !== null) throw new AmqpError('UNEXPECTED_FRAME', `unexpected content header on channel ${this.id}`);
        const h = decodeContentHeader(payload);
        if (h.classId !== 60) throw new AmqpError('FRAME_ERROR', `content header for class ${h.classId}`);
        if (h.bodySize > this.conn.options.maxMessageBytes) {
          this.content = null;
          this.fail(new AmqpError('PRECONDITION_FAILED', `message size ${h.bodySize} is larger than configured max size ${this.conn.options.maxMessageBytes}`, 60, 40));
          return;
        }
        // Copy: the payload is a view of a socket chunk and the header is stored with the message.
        c.header = Buffer.from(payload);
        c.properties = h.properties;
        c.bodySize = h.bodySize;
        if (h.bodySize === 0) this.completeContent();
        return;
      }
      case FrameType.BODY: {
        const c = this.content;
        if (c === null || c.header === null) throw new AmqpError('UNEXPECTED_FRAME', `unexpected content body on channel ${this.id}`);
        c.have += payload.length;
        if (c.have > c.bodySize) throw new AmqpError('FRAME_ERROR', `content body longer than the ${c.bodySize} bytes declared`, 60, 40);
        c.chunks.push(payload);
        if (c.have === c.bodySize) this.completeContent();
        return;
      }
      default:
        throw new AmqpError('FRAME_ERROR', `unknown frame type ${type}`);
    }
  }

  private completeContent(): void {
    const c = this.content!;
    this.content = null;
    const body = c.chunks.length === 0 ? EMPTY : c.chunks.length === 1 ? c.chunks[0] : Buffer.concat(c.chunks, c.have);
    const seq = this.confirm ? ++this.publishSeq : 0;
    this.run(() => {
      if (this.tx !== null) this.tx.push(() => this.publish(c, body, seq));
      else this.publish(c, body, seq);
    }, 60, 40);
  }

  private onMethod(m: Method): void {
    const spec = methodIds(m.name);
    this.run(async () => {
      // A method after a publish sees its effect (basic.get, purge, declare-ok counts), as in RabbitMQ.
      if (this.appends.size > 0 && m.name !== 'BasicAck' && m.name !== 'BasicNack' && m.name !== 'BasicReject') {
        await Promise.allSettled([...this.appends]);
      }
      await this.handle(m);
    }, spec[0], spec[1]);
  }

  /** Runs `fn` after every earlier method of the channel; its failure closes the channel or the connection. */
  private run(fn: () => Promise<void> | void, classId: number, methodId: number): void {
    this.work = this.work.then(async () => {
      if (this.state !== 'open' || this.conn.closed) return;
      try {
        await fn();
      } catch (err) {
        const { error, known } = toAmqpError(err, classId, methodId);
        if (!known) this.conn.deps.logger.error({ err, cid: this.conn.id, channel: this.id, peer: this.conn.deps.peerAddress }, 'amqp method failed');
        this.fail(error);
      }
    });
  }

  private async handle(m: Method): Promise<void> {
    const conn = this.conn;
    const broker = conn.broker;
    const principal = conn.principal;
    switch (m.name) {
      case 'ChannelClose':
        this.teardown();
        conn.sendMethod(this.id, 'ChannelCloseOk', {});
        this.finish();
        return;
      case 'ChannelCloseOk':
        return;
      case 'ChannelFlow':
        conn.sendMethod(this.id, 'ChannelFlowOk', { active: m.args.active });
        return;
      case 'ChannelOpen':
        throw new AmqpError('CHANNEL_ERROR', `channel ${this.id} is already open`, 20, 10);
      case 'AccessRequest':
        conn.sendMethod(this.id, 'AccessRequestOk', { ticket: 1 });
        return;

      case 'ExchangeDeclare': {
        const a = m.args;
        let type = a.type;
        const exArgs = fieldTableToObject(a.arguments);
        if (type === DELAYED_EXCHANGE_TYPE && !a.passive) {
          // RabbitMQ's delayed-message plugin: routes as its x-delayed-type; a publish with x-delay > 0 is held.
          const inner = exArgs['x-delayed-type'];
          if (typeof inner !== 'string' || !EXCHANGE_TYPES.includes(inner as ExchangeType)) {
            throw new AmqpError('PRECONDITION_FAILED', "Invalid argument, 'x-delayed-type' must be an existing exchange type");
          }
          type = inner;
          exArgs[DELAYED_MARKER_ARG] = true;
        }
        if (!a.passive && !EXCHANGE_TYPES.includes(type as ExchangeType)) {
          throw new AmqpError('COMMAND_INVALID', `invalid exchange type '${a.type}'`);
        }
        if (a.exchange === '') throw new AmqpError('ACCESS_REFUSED', 'operation not permitted on the default exchange');
        await broker.declareExchange(
          principal,
          { name: a.exchange, type: type as ExchangeType, durable: a.durable, autoDelete: a.autoDelete, internal: a.internal, arguments: exArgs },
          { passive: a.passive },
        );
        if (!a.nowait) conn.sendMethod(this.id, 'ExchangeDeclareOk', {});
        return;
      }
      case 'ExchangeDelete':
        await broker.deleteExchange(principal, m.args.exchange, { ifUnused: m.args.ifUnused });
        if (!m.args.nowait) conn.sendMethod(this.id, 'ExchangeDeleteOk', {});
        return;
      case 'ExchangeBind':
        await broker.bind(principal, m.args.source, { kind: 'exchange', name: m.args.destination }, m.args.routingKey, fieldTableToObject(m.args.arguments));
        if (!m.args.nowait) conn.sendMethod(this.id, 'ExchangeBindOk', {});
        return;
      case 'ExchangeUnbind':
        await broker.unbind(principal, m.args.source, { kind: 'exchange', name: m.args.destination }, m.args.routingKey, fieldTableToObject(m.args.arguments));
        if (!m.args.nowait) conn.sendMethod(this.id, 'ExchangeUnbindOk', {});
        return;

      case 'QueueDeclare': {
        const a = m.args;
        const { queue } = await conn.queues.declare(principal, {
          name: a.queue,
          durable: a.durable,
          exclusive: a.exclusive,
          autoDelete: a.autoDelete,
          passive: a.passive,
          arguments: fieldTableToObject(a.arguments),
          owner: conn.owner,
          maxMessageBytes: conn.options.maxMessageBytes,
        });
        this.lastQueue = queue.name;
        if (!a.nowait) conn.sendMethod(this.id, 'QueueDeclareOk', { queue: queue.name, messageCount: queue.messageCount, consumerCount: queue.consumerCount });
        return;
      }
      case 'QueueBind': {
        const q = conn.queues.require(this.queueName(m.args.queue), conn.owner);
        await broker.bind(principal, m.args.exchange, { kind: 'queue', name: q.name }, m.args.routingKey, fieldTableToObject(m.args.arguments));
        if (!m.args.nowait) conn.sendMethod(this.id, 'QueueBindOk', {});
        return;
      }
      case 'QueueUnbind': {
        const q = conn.queues.require(this.queueName(m.args.queue), conn.owner);
        await broker.unbind(principal, m.args.exchange, { kind: 'queue', name: q.name }, m.args.routingKey, fieldTableToObject(m.args.arguments));
        conn.sendMethod(this.id, 'QueueUnbindOk', {});
        return;
      }
      case 'QueuePurge': {
        const count = await conn.queues.purge(this.queueName(m.args.queue), conn.owner);
        if (!m.args.nowait) conn.sendMethod(this.id, 'QueuePurgeOk', { messageCount: count });
        return;
      }
      case 'QueueDelete': {
        const name = this.queueName(m.args.queue);
        const q = conn.queues.get(name);
        const count = await conn.queues.delete(principal, name, { ifUnused: m.args.ifUnused, ifEmpty: m.args.ifEmpty, owner: conn.owner });
        if (q !== undefined) conn.deps.queueDeleted(q);
        if (!m.args.nowait) conn.sendMethod(this.id, 'QueueDeleteOk', { messageCount: count });
        return;
      }

      case 'BasicQos':
        // RabbitMQ: global=false applies to consumers created afterwards on the channel; global=true (per
        // channel) is approximated per consumer as well.
        this.prefetchCount = m.args.prefetchCount;
        conn.sendMethod(this.id, 'BasicQosOk', {});
        return;
      case 'BasicConsume':
        this.consume(m.args);
        return;
      case 'BasicCancel': {
        const tag = m.args.consumerTag;
        await this.cancel(tag, false);
        if (!m.args.nowait) conn.sendMethod(this.id, 'BasicCancelOk', { consumerTag: tag });
        return;
      }
      case 'BasicGet':
        await this.get(m.args.queue, m.args.noAck);
        return;
      case 'BasicAck':
        this.transact(() => this.settle(m.args.deliveryTag, m.args.multiple, 'ack', false));
        return;
      case 'BasicNack':
        this.transact(() => this.settle(m.args.deliveryTag, m.args.multiple, 'nack', m.args.requeue));
        return;
      case 'BasicReject':
        this.transact(() => this.settle(m.args.deliveryTag, false, 'nack', m.args.requeue));
        return;
      case 'BasicRecover':
      case 'BasicRecoverAsync':
        this.requeueAll();
        if (m.name === 'BasicRecover') conn.sendMethod(this.id, 'BasicRecoverOk', {});
        return;

      case 'ConfirmSelect':
        if (this.tx !== null) throw new AmqpError('PRECONDITION_FAILED', 'cannot switch from tx to confirm mode', 85, 10);
        this.confirm = true;
        if (!m.args.nowait) conn.sendMethod(this.id, 'ConfirmSelectOk', {});
        return;
      case 'TxSelect':
        if (this.confirm) throw new AmqpError('PRECONDITION_FAILED', 'cannot switch from confirm to tx mode', 90, 10);
        this.tx ??= [];
        conn.sendMethod(this.id, 'TxSelectOk', {});
        return;
      case 'TxCommit': {
        if (this.tx === null) throw new AmqpError('PRECONDITION_FAILED', 'channel is not transactional', 90, 20);
        // Publishes and acks of the transaction take effect in order, then commit-ok once the appends are durable.
        const ops = this.tx;
        this.tx = [];
        for (const op of ops) op();
        if (this.appends.size > 0) await Promise.allSettled([...this.appends]);
        conn.sendMethod(this.id, 'TxCommitOk', {});
        return;
      }
      case 'TxRollback':
        if (this.tx === null) throw new AmqpError('PRECONDITION_FAILED', 'channel is not transactional', 90, 30);
        this.tx = [];
        conn.sendMethod(this.id, 'TxRollbackOk', {});
        return;
      default:
        throw new AmqpError('COMMAND_INVALID', `unexpected method '${m.name}' from a client`);
    }
  }

  /** Runs `op` now, or at tx.commit when the channel is transactional (unknown tags fail at commit). */
  private transact(op: () => void): void {
    if (this.tx !== null) this.tx.push(op);
    else op();
  }

  private queueName(name: string): string {
    if (name !== '') return name;
    if (this.lastQueue === '') throw new AmqpError('NOT_FOUND', 'no previously declared queue');
    return this.lastQueue;
  }

  // --- publish ----------------------------------------------------------------------------------------

  private publish(c: PendingContent, body: Buffer, seq: number): void {
    const a = c.args;
    if (a.immediate) throw new AmqpError('NOT_IMPLEMENTED', 'immediate=true', 60, 40);
    const queues = this.conn.queues;
    let props = c.properties ?? {};
    if (props.replyTo === DIRECT_REPLY_TO) {
      if (this.replyTo === null) throw new AmqpError('PRECONDITION_FAILED', 'fast reply consumer does not exist', 60, 40);
      props = { ...props, replyTo: `${DIRECT_REPLY_TO}.${this.replyTo.token}` };
      c.header = encodeContentHeader({ classId: 60, weight: 0, bodySize: body.length, properties: props });
    }
    if (a.exchange === '' && a.routingKey.startsWith(`${DIRECT_REPLY_TO}.`)) {
      const target = this.conn.deps.directReplies.get(a.routingKey.slice(DIRECT_REPLY_TO.length + 1));
      if (target !== undefined) target.deliverDirect(c.header!, body, a.exchange, a.routingKey);
      else if (a.mandatory) {
        this.conn.send(
          encodeMethodWithRawContent(this.id, 'BasicReturn', { replyCode: 312, replyText: 'NO_ROUTE', exchange: a.exchange, routingKey: a.routingKey }, c.header!, body, this.conn.frameMax),
        );
      }
      if (seq > 0) this.confirmed(seq, true);
      return;
    }
    const headersObj = props.headers === undefined ? undefined : fieldTableToObject(props.headers);
    const routed = this.conn.broker.exchanges.route(a.exchange, a.routingKey, headersObj);
    const targets: Queue[] = [];
    for (const name of routed) {
      const q = queues.get(name);
      if (q !== undefined) targets.push(q);
    }
    // Interop (DESIGN.md): a publish on amq.topic is also a publish of subject <routing key> on the Router, so
    // NATS/MQTT subscribers and streams capturing that subject get it.
    const subject = a.exchange === 'amq.topic' && isValidSubject(a.routingKey) ? a.routingKey : null;
    if (targets.length === 0 && subject === null) {
      if (a.mandatory) {
        this.conn.send(
          encodeMethodWithRawContent(this.id, 'BasicReturn', { replyCode: 312, replyText: 'NO_ROUTE', exchange: a.exchange, routingKey: a.routingKey }, c.header!, body, this.conn.frameMax),
        );
      }
      if (seq > 0) this.confirmed(seq, true);
      return;
    }
    const headers = recordHeaders(c.header!, props, a.exchange, a.routingKey);
    const timestamp = Date.now();
    const options = props.expiration === undefined && props.priority === undefined ? NO_PUBLISH_OPTIONS : { priority: props.priority, expirationMs: expirationOf(props.expiration) };
    const delayMs = this.delayOf(a.exchange, headersObj);
    // A queue that refuses the message (x-overflow reject-publish) resolves to null: the confirm is a nack.
    const appends: Promise<unknown>[] = delayMs > 0
      ? targets.map((q) => this.scheduleDelayed(q, body, headers, timestamp, delayMs, props.priority))
      : targets.map((q) => queues.publish(q, body, headers, timestamp, options).then(isStored));
    if (subject !== null) {
      // Without the raw properties (binary; other protocols' header encodings cannot carry it): an AMQP consumer
      // of the subject gets properties rebuilt from the mapped headers.
      const shared = headers.filter((h) => h.key !== QUEUE_HEADERS.amqpProperties);
      const message: Message = { subject, key: null, value: body, headers: shared, timestamp, origin: this.conn };
      if (props.replyTo !== undefined && isValidSubject(props.replyTo)) message.replyTo = props.replyTo;
      appends.push(this.conn.broker.publish(this.conn.principal, message));
      if (targets.length === 0 && a.mandatory) {
        this.conn.send(
          encodeMethodWithRawContent(this.id, 'BasicReturn', { replyCode: 312, replyText: 'NO_ROUTE', exchange: a.exchange, routingKey: a.routingKey }, c.header!, body, this.conn.frameMax),
        );
      }
    }
    const all: Promise<unknown> = appends.length === 1 ? appends[0] : Promise.all(appends);
    this.appends.add(all);
    this.conn.appendStarted();
    void all
      .finally(() => {
        this.appends.delete(all);
        this.conn.appendFinished();
      })
      .catch(() => undefined);
    all.then(
      (result) => {
        if (seq > 0) this.confirmed(seq, result !== false && !(Array.isArray(result) && result.includes(false)));
      },
      (err: unknown) => {
        this.conn.deps.logger.warn({ err, cid: this.conn.id, channel: this.id }, 'amqp publish append failed');
        if (seq > 0) this.confirmed(seq, false);
      },
    );
  }

  /** The x-delay of a publish to an x-delayed-message exchange (ms), else 0. */
  private delayOf(exchange: string, headers: { [key: string]: unknown } | undefined): number {
    if (headers === undefined || exchange === '') return 0;
    const delay = headers['x-delay'];
    if (typeof delay !== 'number' || !(delay > 0)) return 0;
    return this.conn.broker.exchanges.get(exchange)?.arguments[DELAYED_MARKER_ARG] === true ? delay : 0;
  }

  /**
   * Holds a delayed publish in the core's delay scheduler (durable: survives restart and kill -9) for the
   * queue's stream; it is appended there when due. Resolves once the delayed record is durable.
   */
  private scheduleDelayed(q: Queue, body: Buffer, headers: RecordHeader[], timestamp: number, delayMs: number, priority: number | undefined): Promise<boolean> {
    const level = q.levels === 1 ? 0 : Math.max(0, Math.min(priority ?? 0, q.levels - 1));
    return this.conn.broker.scheduleDelayed(this.conn.principal, q.stream.name, level, { key: null, value: body, headers, timestamp }, timestamp + delayMs).then(() => true);
  }

  /** Records the outcome of publish `seq` and sends acks/nacks for the contiguous run now settled. */
  private confirmed(seq: number, ok: boolean): void {
    if (this.state === 'closed') return;
    this.confirmDone.set(seq, ok);
    let runStart = 0;
    const flushRun = (end: number): void => {
      if (runStart === 0) return;
      this.conn.sendMethod(this.id, 'BasicAck', { deliveryTag: end, multiple: end > runStart });
      runStart = 0;
    };
    for (;;) {
      const next = this.confirmFloor + 1;
      const outcome = this.confirmDone.get(next);
      if (outcome === undefined) break;
      this.confirmDone.delete(next);
      this.confirmFloor = next;
      if (outcome) {
        if (runStart === 0) runStart = next;
      } else {
        flushRun(next - 1);
        this.conn.sendMethod(this.id, 'BasicNack', { deliveryTag: next, multiple: false, requeue: false });
      }
    }
    flushRun(this.confirmFloor);
  }

  // --- consume ----------------------------------------------------------------------------------------

  private consume(a: MethodArgs['BasicConsume']): void {
    const conn = this.conn;
    if (a.queue === DIRECT_REPLY_TO) {
      this.consumeDirectReplyTo(a);
      return;
    }
    const q = conn.queues.require(this.queueName(a.queue), conn.owner);
    let tag = a.consumerTag;
    if (tag === '') tag = `amq.ctag-${randomBytes(16).toString('base64url')}`;
    if (this.consumers.has(tag)) throw new AmqpError('NOT_ALLOWED', `attempt to reuse consumer tag '${tag}'`, 60, 20);
    if (q.exclusiveConsumer || (a.exclusive && q.consumerCount > 0)) {
      throw new AmqpError('ACCESS_REFUSED', `queue '${q.name}' in exclusive use`, 60, 20);
    }
    const args = fieldTableToObject(a.arguments);
    const priority = typeof args['x-priority'] === 'number' ? args['x-priority'] : 0;
    const cc = new ChannelConsumer(this, tag, q, a.noAck, a.exclusive);
    this.consumers.set(tag, cc);
    // consume-ok must precede the first basic.deliver, which attach() may trigger synchronously.
    if (!a.nowait) conn.sendMethod(this.id, 'BasicConsumeOk', { consumerTag: tag });
    cc.consumer = q.cursor.attach({ id: `${conn.owner}/${this.id}/${tag}`, priority, prefetchCount: a.noAck ? 0 : this.prefetchCount, context: cc });
    q.hadConsumer = true;
    if (a.exclusive) q.exclusiveConsumer = true;
  }

  /**
   * Direct reply-to (RabbitMQ's `amq.rabbitmq.reply-to`): a no-ack pseudo-consumer on this channel; replies
   * published to `amq.rabbitmq.reply-to.<token>` on the default exchange are delivered to it directly, unstored.
   */
  private consumeDirectReplyTo(a: MethodArgs['BasicConsume']): void {
    if (!a.noAck) throw new AmqpError('PRECONDITION_FAILED', 'reply consumer cannot acknowledge', 60, 20);
    if (this.replyTo !== null) throw new AmqpError('PRECONDITION_FAILED', 'reply consumer already set', 60, 20);
    const tag = a.consumerTag === '' ? `amq.ctag-${randomBytes(16).toString('base64url')}` : a.consumerTag;
    if (this.consumers.has(tag)) throw new AmqpError('NOT_ALLOWED', `attempt to reuse consumer tag '${tag}'`, 60, 20);
    const token = randomBytes(18).toString('base64url');
    this.replyTo = { token, tag };
    this.conn.deps.directReplies.set(token, this);
    if (!a.nowait) this.conn.sendMethod(this.id, 'BasicConsumeOk', { consumerTag: tag });
  }

  private dropDirectReplyTo(): void {
    if (this.replyTo === null) return;
    this.conn.deps.directReplies.delete(this.replyTo.token);
    this.replyTo = null;
  }

  /** A reply for this channel's direct reply-to consumer. */
  deliverDirect(header: Buffer, body: Buffer, exchange: string, routingKey: string): void {
    if (this.state !== 'open' || this.replyTo === null) return;
    const args = { consumerTag: this.replyTo.tag, deliveryTag: this.nextTag++, redelivered: false, exchange, routingKey };
    this.conn.send(encodeMethodWithRawContent(this.id, 'BasicDeliver', args, header, body, this.conn.frameMax));
  }

  /** Detaches a consumer (its unacked records are requeued by the cursor). `notify`: server-initiated cancel. */
  private async cancel(tag: string, notify: boolean): Promise<void> {
    if (this.replyTo !== null && this.replyTo.tag === tag) {
      this.dropDirectReplyTo();
      return;
    }
    const cc = this.consumers.get(tag);
    if (cc === undefined) return;
    this.consumers.delete(tag);
    this.detach(cc);
    if (notify && this.conn.clientCapabilities.consumer_cancel_notify === true) {
      this.conn.sendMethod(this.id, 'BasicCancel', { consumerTag: tag, nowait: true });
    }
    await this.conn.queues.consumerLeft(this.conn.principal, cc.queue).catch((err) => {
      this.conn.deps.logger.warn({ err, cid: this.conn.id, queue: cc.queue.name }, 'amqp auto-delete failed');
    });
  }

  private detach(cc: ChannelConsumer): void {
    for (const u of this.unacked.values()) if (u.consumerTag === cc.tag) u.stale = true;
    if (cc.exclusive) cc.queue.exclusiveConsumer = false;
    if (cc.consumer !== null) {
      try {
        cc.queue.cursor.detach(cc.consumer);
      } catch {
        // The queue was deleted: its cursor is gone with the records.
      }
    }
  }

  /** The cursor's push delivery. Returns false when the socket is backed up (the cursor pauses the consumer). */
  deliver(cc: ChannelConsumer, d: Delivery): boolean {
    if (this.state !== 'open') return false;
    const tag = this.nextTag++;
    if (cc.noAck) {
      // Settle after the cursor's pump returns, not inside it.
      queueMicrotask(() => void cc.queue.cursor.ack(d).catch(() => undefined));
    } else {
      this.unacked.set(tag, { queue: cc.queue, delivery: d, consumerTag: cc.tag, stale: false });
    }
    this.conn.send(this.encodeContent('BasicDeliver', { consumerTag: cc.tag, deliveryTag: tag, redelivered: d.redelivered }, d));
    return !this.conn.congested;
  }

  resumeConsumers(): void {
    for (const cc of this.consumers.values()) {
      if (cc.consumer !== null && cc.consumer.paused) cc.queue.cursor.resume(cc.consumer);
    }
  }

  private async get(queueName: string, noAck: boolean): Promise<void> {
    const q = this.conn.queues.require(this.queueName(queueName), this.conn.owner);
    this.conn.queues.touch(q);
    const d = await q.cursor.get({ autoAck: noAck });
    if (d === null) {
      this.conn.sendMethod(this.id, 'BasicGetEmpty', {});
      return;
    }
    const tag = this.nextTag++;
    if (!noAck) this.unacked.set(tag, { queue: q, delivery: d, consumerTag: null, stale: false });
    this.conn.send(this.encodeContent('BasicGetOk', { deliveryTag: tag, redelivered: d.redelivered, messageCount: q.messageCount }, d));
  }

  private encodeContent(
    name: 'BasicDeliver' | 'BasicGetOk',
    args: { consumerTag?: string; deliveryTag: number; redelivered: boolean; messageCount?: number },
    d: Delivery,
  ): Buffer {
    const record = d.record;
    let raw: Buffer | null = null;
    let exchange = '';
    let routingKey = '';
    for (const h of record.headers) {
      if (h.value === null) continue;
      if (h.key === QUEUE_HEADERS.amqpProperties) raw = h.value;
      else if (h.key === QUEUE_HEADERS.exchange) exchange = h.value.toString('utf8');
      else if (h.key === QUEUE_HEADERS.routingKey) routingKey = h.value.toString('utf8');
    }
    const body = record.value ?? EMPTY;
    const full = name === 'BasicDeliver'
      ? { consumerTag: args.consumerTag!, deliveryTag: args.deliveryTag, redelivered: args.redelivered, exchange, routingKey }
      : { deliveryTag: args.deliveryTag, redelivered: args.redelivered, exchange, routingKey, messageCount: args.messageCount! };
    if (raw !== null && raw.length >= 12 && raw.readUInt32BE(8) === body.length && raw.readUInt32BE(4) === 0) {
      return encodeMethodWithRawContent(this.id, name, full as never, raw, body, this.conn.frameMax);
    }
    return encodeMethodWithContent(this.id, name, full as never, basicContentHeader(body.length, propertiesFromRecord(record.headers)), body, this.conn.frameMax);
  }

  // --- settling ---------------------------------------------------------------------------------------

  private settle(tag: number, multiple: boolean, how: 'ack' | 'nack', requeue: boolean): void {
    const apply = (t: number, u: Unacked): void => {
      this.unacked.delete(t);
      if (u.stale) return;
      const cursor = u.queue.cursor;
      try {
        const done = how === 'ack' ? cursor.ack(u.delivery) : cursor.nack(u.delivery, { requeue });
        done.catch((err: unknown) => this.conn.deps.logger.warn({ err, cid: this.conn.id }, 'amqp settle failed'));
      } catch {
        // The queue was deleted or the record was already requeued: nothing left to settle.
      }
    };
    if (multiple) {
      if (tag !== 0 && tag >= this.nextTag) throw new AmqpError('PRECONDITION_FAILED', `unknown delivery tag ${tag}`, 60, how === 'ack' ? 80 : 120);
      for (const [t, u] of [...this.unacked]) {
        if (tag !== 0 && t > tag) break;
        apply(t, u);
      }
      return;
    }
    const u = this.unacked.get(tag);
    if (u === undefined) throw new AmqpError('PRECONDITION_FAILED', `unknown delivery tag ${tag}`, 60, how === 'ack' ? 80 : 90);
    apply(tag, u);
  }

  private requeueAll(): void {
    for (const [t, u] of [...this.unacked]) {
      this.unacked.delete(t);
      if (u.stale) continue;
      try {
        void u.queue.cursor.nack(u.delivery, { requeue: true }).catch(() => undefined);
      } catch {
        // queue gone
      }
    }
  }

  // --- closing ----------------------------------------------------------------------------------------

  /** A soft error closes this channel; a hard one the connection. */
  fail(err: AmqpError): void {
    if (err.hard) {
      this.conn.closeWithError(err, true);
      return;
    }
    if (this.state !== 'open') return;
    this.conn.deps.logger.info({ cid: this.conn.id, channel: this.id, code: err.replyCode, err: err.message }, `amqp channel error: ${err.replyText}`);
    this.teardown();
    this.state = 'closing';
    this.conn.sendMethod(this.id, 'ChannelClose', { replyCode: err.replyCode, replyText: err.replyText, classId: err.classId, methodId: err.methodId });
  }

  /** Releases consumers and unacked deliveries (requeued). Idempotent. */
  teardown(): void {
    if (this.state === 'closed') return;
    this.content = null;
    for (const cc of [...this.consumers.values()]) {
      this.consumers.delete(cc.tag);
      this.detach(cc);
      void this.conn.queues.consumerLeft(this.conn.principal, cc.queue).catch(() => undefined);
    }
    this.requeueAll();
    this.dropDirectReplyTo();
    this.confirmDone.clear();
  }

  private finish(): void {
    this.teardown();
    this.state = 'closed';
    this.conn.forgetChannel(this.id);
  }

  /** A queue was deleted: its consumers here are cancelled (basic.cancel when the client asked for it). */
  queueDeleted(queue: Queue): void {
    for (const cc of [...this.consumers.values()]) if (cc.queue === queue) void this.cancel(cc.tag, true);
    for (const [t, u] of this.unacked) if (u.queue === queue) this.unacked.set(t, { ...u, stale: true });
  }
}

/** [class-id, method-id] of a method name, for channel.close / connection.close. */
function methodIds(name: string): [number, number] {
  const spec = METHOD_IDS.get(name);
  return spec ?? [0, 0];
}

const METHOD_IDS = new Map<string, [number, number]>(Object.values(METHODS).map((m) => [m.name, [m.classId, m.methodId]]));

/** The record headers of a published message: the raw properties plus the mapped ones (docs/interop.md). */
const NO_PUBLISH_OPTIONS = {};
/** The exchange type of RabbitMQ's delayed-message plugin, and the argument marking such an exchange here. */
const DELAYED_EXCHANGE_TYPE = 'x-delayed-message';
const DELAYED_MARKER_ARG = 'x-tributary-delayed-message';
const isStored = (ack: unknown): boolean => ack !== null;

/** The expiration property as milliseconds (RabbitMQ: a non-negative integer in a string; else 406). */
function expirationOf(expiration: string | undefined): number | undefined {
  if (expiration === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(expiration)) throw new AmqpError('PRECONDITION_FAILED', `invalid expiration '${expiration}'`, 60, 40);
  return Number(expiration);
}

export function recordHeaders(rawHeader: Buffer, props: BasicProperties, exchange: string, routingKey: string): RecordHeader[] {
  const out: RecordHeader[] = [
    { key: QUEUE_HEADERS.amqpProperties, value: rawHeader },
    { key: QUEUE_HEADERS.exchange, value: Buffer.from(exchange, 'utf8') },
    { key: QUEUE_HEADERS.routingKey, value: Buffer.from(routingKey, 'utf8') },
  ];
  const add = (key: string, v: string | undefined): void => {
    if (v !== undefined) out.push({ key, value: Buffer.from(v, 'utf8') });
  };
  add(QUEUE_HEADERS.contentType, props.contentType);
  add(QUEUE_HEADERS.contentEncoding, props.contentEncoding);
  add(QUEUE_HEADERS.correlationId, props.correlationId);
  add(QUEUE_HEADERS.messageId, props.messageId);
  add(QUEUE_HEADERS.replyTo, props.replyTo);
  if (props.headers !== undefined) {
    for (const [key, v] of props.headers) {
      if (v.type === 'S' || v.type === 'x') out.push({ key, value: v.value });
      else if (v.type === 't' || v.type === 'b' || v.type === 'B' || v.type === 's' || v.type === 'u' || v.type === 'I' || v.type === 'i' || v.type === 'l' || v.type === 'f' || v.type === 'd' || v.type === 'T') {
        out.push({ key, value: Buffer.from(String(v.value), 'utf8') });
      }
    }
  }
  return out;
}

const MAPPED = new Set<string>(Object.values(QUEUE_HEADERS));

/** Properties for a record that did not come from AMQP (another protocol's publish). */
export function propertiesFromRecord(headers: RecordHeader[]): BasicProperties {
  const props: BasicProperties = {};
  const table: FieldTable = new Map();
  for (const h of headers) {
    if (h.value === null) continue;
    const s = (): string => h.value!.toString('utf8');
    switch (h.key) {
      case QUEUE_HEADERS.contentType: props.contentType = s(); break;
      case QUEUE_HEADERS.contentEncoding: props.contentEncoding = s(); break;
      case QUEUE_HEADERS.correlationId: props.correlationId = s(); break;
      case QUEUE_HEADERS.messageId: props.messageId = s(); break;
      case QUEUE_HEADERS.replyTo: props.replyTo = s(); break;
      default:
        if (!MAPPED.has(h.key) && !h.key.startsWith('tributary-')) table.set(h.key, { type: 'S', value: h.value });
    }
  }
  if (table.size > 0) props.headers = table;
  return props;
}
