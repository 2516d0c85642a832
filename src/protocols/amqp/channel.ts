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
import type { Cursor, StartPolicy } from '../../core/cursor/cursor.js';
import type { Delivery } from '../../core/cursor/cursor-state.js';
import type { DeliveryTarget } from '../../core/broker.js';
import { EXCHANGE_TYPES, type ExchangeType } from '../../core/exchange.js';
import { QUEUE_HEADERS, SERVER_NAMED_PREFIX, parseMaxAge, type Queue } from '../../core/queue-registry.js';
import type { PermissionKind } from '../../core/users/vhost-permissions.js';
import { DEFAULT_TENANT, splitTenantName, tenantName } from '../../core/exchange-registry.js';
import type { Message } from '../../core/message.js';
import { isValidSubject } from '../../core/router/subject.js';
import { amqpRoutingKeyToSubject } from '../../core/router/translate.js';
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
  fieldValueToPlain,
  utf8Text,
  type BasicProperties,
  type FieldTable,
  type FieldValue,
  type Method,
  type MethodArgs,
} from './codec/index.js';
import type { AmqpConnection } from './connection.js';
import { AmqpError, toAmqpError } from './reply-codes.js';
import { IntegerMap } from '../../core/integer-map.js';

/** A basic.consume: the Cursor's consumer context. */
class ChannelConsumer implements DeliveryTarget {
  consumer: Consumer | null = null;
  constructor(
    readonly channel: AmqpChannel,
    readonly tag: string,
    readonly queue: Queue,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    /** The queue's shared cursor, or for a stream queue this consumer's own reader. */
    readonly cursor: Cursor,
  ) {}
  deliver(delivery: Delivery): boolean {
    return this.channel.deliver(this, delivery);
  }
}

interface Unacked {
  queue: Queue;
  /** The cursor that delivered it (the queue's, or a stream consumer's reader). */
  cursor: Cursor;
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
  /** The body when it came in one frame (the usual case: no array per message). */
  first: Buffer | null;
  /** Every body frame once there is more than one. */
  chunks: Buffer[] | null;
  have: number;
}

const EMPTY = Buffer.alloc(0);
/** RabbitMQ's direct reply-to pseudo-queue. */
const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';
/** Routing keys of direct replies: built once, not per publish. */
const DIRECT_REPLY_TO_PREFIX = `${DIRECT_REPLY_TO}.`;

export class AmqpChannel {
  private state: 'open' | 'closing' | 'closed' = 'open';
  private work: Promise<void> = Promise.resolve();
  /** Methods on `work` not yet finished: while it is 0, a publish may run at once (it would be next anyway). */
  private queued = 0;
  private content: PendingContent | null = null;
  private nextTag = 1;
  /** By delivery tag; an IntegerMap, not a Map (per-message churn: see core/integer-map.ts). */
  private readonly unacked = new IntegerMap<Unacked>();
  /** No unacked delivery has a lower tag (a multiple settle scans tags from here instead of the whole table). */
  private lowestUnacked = 1;
  private readonly consumers = new Map<string, ChannelConsumer>();
  /** basic.qos global=false: the prefetch of consumers created afterwards. */
  private prefetchCount = 0;
  /** basic.qos global=true: unacked deliveries allowed to all the channel's consumers together (0 = no limit). */
  private channelPrefetch = 0;
  /** Unacked deliveries to this channel's consumers (not basic.get, not stale), for channelPrefetch. */
  private consumerUnacked = 0;
  /** Last queue declared on the channel: '' in queue.bind/consume/… means it (AMQP 0-9-1). */
  private lastQueue = '';
  // Publisher confirms.
  private confirm = false;
  private publishSeq = 0;
  /** Every publish up to this sequence number is settled (stored or refused). */
  private confirmFloor = 0;
  /** Every publish up to this one has been reported (basic.ack / basic.nack sent). */
  private confirmSent = 0;
  /** The connection will call sendConfirms before its next write (asked once per write, not per publish). */
  private confirmsAsked = false;
  private readonly confirmDone = new Map<number, boolean>();
  /** Direct reply-to: this channel's pseudo-consumer of `amq.rabbitmq.reply-to` (token and consumer tag). */
  private replyTo: { token: string; tag: string } | null = null;
  /** tx.select mode: publishes and acks buffered until tx.commit (null when not transactional). */
  private tx: Array<() => void> | null = null;
  /**
   * The last content header accepted on the channel: its bytes (copied), properties and body size. Shared by
   * the messages whose header bytes are the same, so it is never written to: publish() replaces a message's
   * header or properties (direct reply-to) with new objects, and records only read the bytes.
   */
  private lastHeader: { header: Buffer; properties: BasicProperties; bodySize: number } | null = null;
  /** basic.deliver's arguments, rewritten for each delivery (encoded at once, never kept). */
  private readonly deliverArgs: MethodArgs['BasicDeliver'] = { consumerTag: '', deliveryTag: 0, redelivered: false, exchange: '', routingKey: '' };
  /** publish(): the queue names routed to and their queues (reused; emptied by each publish). */
  private readonly routed: string[] = [];
  private readonly targets: Queue[] = [];
  /** The last cursor-store promise a settle got (see settle). */
  private settleWatched: Promise<void> | null = null;
  private readonly onSettleFailed = (err: unknown): void => {
    this.conn.deps.logger.warn({ err, cid: this.conn.id }, 'amqp settle failed');
  };
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
          this.conn.traffic.messagesIn++;
          this.conn.publishing();
          this.content = { args: m.args, header: null, properties: null, bodySize: 0, first: null, chunks: null, have: 0 };
          return;
        }
        this.onMethod(m);
        return;
      }
      case FrameType.HEADER: {
        const c = this.content;
        if (c === null || c.header !== null) throw new AmqpError('UNEXPECTED_FRAME', `unexpected content header on channel ${this.id}`);
        const last = this.lastHeader;
        if (last !== null && payload.equals(last.header)) {
          // The same bytes as the previous message's header (a publisher sends the same properties and, for
          // same-size bodies, the same size every time): share its copy and decoding, which nothing writes to.
          c.header = last.header;
          c.properties = last.properties;
          c.bodySize = last.bodySize;
        } else {
          // Copied first: the payload is a view of a socket chunk, and the header is stored with the message and
          // kept for the next one; the properties' tables and strings are then views of the copy.
          const header = Buffer.from(payload);
          const h = decodeContentHeader(header);
          if (h.classId !== 60) throw new AmqpError('FRAME_ERROR', `content header for class ${h.classId}`);
          if (h.bodySize > this.conn.options.maxMessageBytes) {
            this.content = null;
            this.fail(new AmqpError('PRECONDITION_FAILED', `message size ${h.bodySize} is larger than configured max size ${this.conn.options.maxMessageBytes}`, 60, 40));
            return;
          }
          c.header = header;
          c.properties = h.properties;
          c.bodySize = h.bodySize;
          this.lastHeader = { header: c.header, properties: h.properties, bodySize: h.bodySize };
        }
        if (c.bodySize === 0) this.completeContent();
        return;
      }
      case FrameType.BODY: {
        const c = this.content;
        if (c === null || c.header === null) throw new AmqpError('UNEXPECTED_FRAME', `unexpected content body on channel ${this.id}`);
        c.have += payload.length;
        if (c.have > c.bodySize) throw new AmqpError('FRAME_ERROR', `content body longer than the ${c.bodySize} bytes declared`, 60, 40);
        if (c.first === null) c.first = payload;
        else (c.chunks ??= [c.first]).push(payload);
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
    const body = c.chunks !== null ? Buffer.concat(c.chunks, c.have) : (c.first ?? EMPTY);
    const seq = this.confirm ? ++this.publishSeq : 0;
    if (this.queued === 0 && this.tx === null) {
      // Nothing earlier on this channel is still running: the chain would run the publish next anyway, so run it
      // now, without the two promises and two closures a turn on the chain costs per message.
      if (this.state !== 'open' || this.conn.closed) return;
      try {
        this.publish(c, body, seq);
      } catch (err) {
        this.failed(err, 60, 40);
      }
      return;
    }
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
    this.queued++;
    this.work = this.work.then(async () => {
      try {
        if (this.state !== 'open' || this.conn.closed) return;
        // A publish is synchronous: awaiting its undefined would cost a promise and a microtask per message.
        const done = fn();
        if (done !== undefined) await done;
      } catch (err) {
        this.failed(err, classId, methodId);
      } finally {
        this.queued--;
      }
    });
  }

  /** A method failed: logged when unexpected, then the channel (or the connection) is closed. */
  private failed(err: unknown, classId: number, methodId: number): void {
    const { error, known } = toAmqpError(err, classId, methodId);
    if (!known) this.conn.deps.logger.error({ err, cid: this.conn.id, channel: this.id, peer: this.conn.deps.peerAddress }, 'amqp method failed');
    this.fail(error);
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
        // The alternate exchange is named within the vhost, like the exchange itself.
        if (typeof exArgs['alternate-exchange'] === 'string') exArgs['alternate-exchange'] = this.ex(exArgs['alternate-exchange']);
        if (!a.passive) this.permit('configure', 'exchange', a.exchange);
        await broker.declareExchange(
          principal,
          { name: this.ex(a.exchange), type: type as ExchangeType, durable: a.durable, autoDelete: a.autoDelete, internal: a.internal, arguments: exArgs },
          { passive: a.passive },
        );
        if (!a.nowait) conn.sendMethod(this.id, 'ExchangeDeclareOk', {});
        return;
      }
      case 'ExchangeDelete':
        this.permit('configure', 'exchange', m.args.exchange);
        await broker.deleteExchange(principal, this.ex(m.args.exchange), { ifUnused: m.args.ifUnused });
        if (!m.args.nowait) conn.sendMethod(this.id, 'ExchangeDeleteOk', {});
        return;
      case 'ExchangeBind':
        this.permit('write', 'exchange', m.args.destination);
        this.permit('read', 'exchange', m.args.source);
        await broker.bind(principal, this.ex(m.args.source), { kind: 'exchange', name: this.ex(m.args.destination) }, m.args.routingKey, fieldTableToObject(m.args.arguments));
        if (!m.args.nowait) conn.sendMethod(this.id, 'ExchangeBindOk', {});
        return;
      case 'ExchangeUnbind':
        this.permit('write', 'exchange', m.args.destination);
        this.permit('read', 'exchange', m.args.source);
        await broker.unbind(principal, this.ex(m.args.source), { kind: 'exchange', name: this.ex(m.args.destination) }, m.args.routingKey, fieldTableToObject(m.args.arguments));
        if (!m.args.nowait) conn.sendMethod(this.id, 'ExchangeUnbindOk', {});
        return;

      case 'QueueDeclare': {
        const a = m.args;
        // A server-named queue is checked as RabbitMQ's generated names start (a regex like ^amq\.gen matches).
        if (!a.passive) this.permit('configure', 'queue', a.queue === '' ? SERVER_NAMED_PREFIX : a.queue);
        const { queue } = await conn.queues.declare(principal, {
          name: this.qn(a.queue),
          tenant: conn.vhost,
          durable: a.durable,
          exclusive: a.exclusive,
          autoDelete: a.autoDelete,
          passive: a.passive,
          arguments: fieldTableToObject(a.arguments),
          owner: conn.owner,
          maxMessageBytes: conn.options.maxMessageBytes,
        });
        this.lastQueue = queue.name;
        if (!a.nowait) conn.sendMethod(this.id, 'QueueDeclareOk', { queue: splitTenantName(queue.name).name, messageCount: queue.messageCount, consumerCount: queue.consumerCount });
        return;
      }
      case 'QueueBind': {
        const q = conn.queues.require(this.queueName(m.args.queue), conn.owner);
        this.permit('write', 'queue', splitTenantName(q.name).name);
        this.permit('read', 'exchange', m.args.exchange);
        await broker.bind(principal, this.ex(m.args.exchange), { kind: 'queue', name: q.name }, m.args.routingKey, fieldTableToObject(m.args.arguments));
        if (!m.args.nowait) conn.sendMethod(this.id, 'QueueBindOk', {});
        return;
      }
      case 'QueueUnbind': {
        const q = conn.queues.require(this.queueName(m.args.queue), conn.owner);
        this.permit('write', 'queue', splitTenantName(q.name).name);
        this.permit('read', 'exchange', m.args.exchange);
        await broker.unbind(principal, this.ex(m.args.exchange), { kind: 'queue', name: q.name }, m.args.routingKey, fieldTableToObject(m.args.arguments));
        conn.sendMethod(this.id, 'QueueUnbindOk', {});
        return;
      }
      case 'QueuePurge': {
        this.permit('read', 'queue', splitTenantName(this.queueName(m.args.queue)).name);
        if (conn.queues.get(this.queueName(m.args.queue))?.isStream === true) {
          throw new AmqpError('NOT_IMPLEMENTED', `queue.purge not supported by stream queues queue '${this.queueName(m.args.queue)}'`, 50, 30);
        }
        const count = await conn.queues.purge(this.queueName(m.args.queue), conn.owner);
        if (!m.args.nowait) conn.sendMethod(this.id, 'QueuePurgeOk', { messageCount: count });
        return;
      }
      case 'QueueDelete': {
        const name = this.queueName(m.args.queue);
        this.permit('configure', 'queue', splitTenantName(name).name);
        // Consumers of the queue (on any connection) are cancelled by the registry's 'deleted' event (index.ts).
        const count = await conn.queues.delete(principal, name, { ifUnused: m.args.ifUnused, ifEmpty: m.args.ifEmpty, owner: conn.owner });
        if (!m.args.nowait) conn.sendMethod(this.id, 'QueueDeleteOk', { messageCount: count });
        return;
      }

      case 'BasicQos':
        // RabbitMQ refuses a byte window (rabbit_channel: "prefetch_size!=0"), a connection error.
        if (m.args.prefetchSize !== 0) throw new AmqpError('NOT_IMPLEMENTED', `prefetch_size!=0 (${m.args.prefetchSize})`, 60, 10);
        // RabbitMQ: global=false is the prefetch of consumers created afterwards on the channel; global=true
        // limits the unacked deliveries of all the channel's consumers together. Both may apply.
        if (m.args.global) {
          this.channelPrefetch = m.args.prefetchCount;
          this.resumeConsumers();
        } else {
          this.prefetchCount = m.args.prefetchCount;
        }
        conn.sendMethod(this.id, 'BasicQosOk', {});
        return;
      case 'BasicConsume':
        await this.consume(m.args);
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

  /**
   * RabbitMQ's per-vhost permission an operation needs (configure / write / read on the exchange or queue, by
   * its name within the vhost), from the core Authorizer; refused → 403 ACCESS_REFUSED on the channel.
   */
  private permit(kind: PermissionKind, type: 'exchange' | 'queue', name: string): void {
    const authorizer = this.conn.broker.authorizer;
    if (authorizer.permissionsEnabled) authorizer.checkPermission(this.conn.principal, this.conn.vhost, kind, type, name);
  }

  /** The core name of an exchange of this connection's vhost ('' stays the default exchange). */
  private ex(name: string): string {
    return this.scoped(name);
  }

  /** The core name of a queue of this connection's vhost. */
  private qn(name: string): string {
    return this.scoped(name);
  }

  /** A NUL separates a vhost from a name in the core (tenantName): a client name holding one could reach another vhost. */
  private scoped(name: string): string {
    if (name.includes('\u0000')) throw new AmqpError('PRECONDITION_FAILED', 'exchange and queue names may not contain NUL');
    return tenantName(this.conn.vhost, name);
  }

  /** A queue name from the client ('' = the last declared) as the core names it. */
  private queueName(name: string): string {
    if (name !== '') return this.qn(name);
    if (this.lastQueue === '') throw new AmqpError('NOT_FOUND', 'no previously declared queue');
    return this.lastQueue;
  }

  // --- publish ----------------------------------------------------------------------------------------

  private publish(c: PendingContent, body: Buffer, seq: number): void {
    const a = c.args;
    if (a.immediate) throw new AmqpError('NOT_IMPLEMENTED', 'immediate=true', 60, 40);
    this.permit('write', 'exchange', a.exchange);
    const queues = this.conn.queues;
    let props = c.properties ?? {};
    if (props.replyTo === DIRECT_REPLY_TO) {
      if (this.replyTo === null) throw new AmqpError('PRECONDITION_FAILED', 'fast reply consumer does not exist', 60, 40);
      props = { ...props, replyTo: `${DIRECT_REPLY_TO}.${this.replyTo.token}` };
      c.header = encodeContentHeader({ classId: 60, weight: 0, bodySize: body.length, properties: props });
    }
    if (a.exchange === '' && a.routingKey.startsWith(DIRECT_REPLY_TO_PREFIX)) {
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
    // An empty table (amqplib sends one with every message) matches and delays like no table: skip the object.
    const headersObj = props.headers === undefined || props.headers.size === 0 ? undefined : fieldTableToObject(props.headers);
    // The default exchange routes to the queue its key names, within the vhost.
    // (A key with a NUL names no queue: it could only name another vhost's.)
    // The routed names and the targets are the channel's arrays, reused: both are used up before publish returns.
    const routed = this.routed;
    routed.length = 0;
    if (!(a.exchange === '' && a.routingKey.includes('\u0000'))) {
      this.conn.broker.exchanges.routeInto(routed, this.ex(a.exchange), a.exchange === '' ? this.qn(a.routingKey) : a.routingKey, headersObj);
    }
    const targets = this.targets;
    targets.length = 0;
    for (let i = 0; i < routed.length; i++) {
      const q = queues.get(routed[i]);
      if (q !== undefined) targets.push(q);
    }
    routed.length = 0;
    // Interop (DESIGN.md): a publish on amq.topic is also a publish of subject <routing key> on the Router, so
    // NATS/MQTT subscribers and streams capturing that subject get it. Keys that are not subjects (`a..b`, spaces,
    // `*`) are escaped reversibly (core/router/translate.ts); only the empty key has no subject.
    const subject = a.exchange === 'amq.topic' && this.conn.vhost === DEFAULT_TENANT ? topicSubject(a.routingKey) : null;
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
    // The usual publish (one queue, no delay, no topic subject) waits on the queue's append promise itself: no
    // array, closure or isStored step per message.
    const single = delayMs <= 0 && subject === null && targets.length === 1;
    const appends: Promise<unknown>[] | null = single ? null : this.appendEach(targets, body, headers, timestamp, options, delayMs, props.priority);
    if (subject !== null) {
      // Without the raw properties (binary; other protocols' header encodings cannot carry it): an AMQP consumer
      // of the subject gets properties rebuilt from the mapped headers.
      const shared = headers.filter((h) => h.key !== QUEUE_HEADERS.amqpProperties);
      const message: Message = { subject, key: null, value: body, headers: shared, timestamp, origin: this.conn };
      if (props.replyTo !== undefined && isValidSubject(props.replyTo)) message.replyTo = props.replyTo;
      appends!.push(this.conn.broker.publish(this.conn.principal, message)); // not single: an array
      if (targets.length === 0 && a.mandatory) {
        this.conn.send(
          encodeMethodWithRawContent(this.id, 'BasicReturn', { replyCode: 312, replyText: 'NO_ROUTE', exchange: a.exchange, routingKey: a.routingKey }, c.header!, body, this.conn.frameMax),
        );
      }
    }
    const all: Promise<unknown> = appends === null ? queues.publish(targets[0], body, headers, timestamp, options) : appends.length === 1 ? appends[0] : Promise.all(appends);
    targets.length = 0;
    this.watchAppend(all, seq);
  }

  /**
   * The appends of a publish to several queues, or with a delay. Apart from publish() so that publish has no
   * closures: a closure there would make every publish allocate a context holding its body, headers and
   * properties, and the append's reaction would keep that context alive until the append is durable.
   */
  private appendEach(targets: readonly Queue[], body: Buffer, headers: RecordHeader[], timestamp: number, options: PublishOptions, delayMs: number, priority: number | undefined): Promise<unknown>[] {
    const queues = this.conn.queues;
    return delayMs > 0
      ? targets.map((q) => this.scheduleDelayed(q, body, headers, timestamp, delayMs, priority))
      : targets.map((q) => queues.publish(q, body, headers, timestamp, options).then(isStored));
  }

  /** Counts the append in flight and confirms publish `seq` (if confirms are on) once it settles. */
  private watchAppend(all: Promise<unknown>, seq: number): void {
    this.appends.add(all);
    this.conn.appendStarted();
    // One reaction per publish, not a finally/catch/then chain (three promises per message on the hot path).
    all.then(
      (result) => {
        this.appends.delete(all);
        this.conn.appendFinished();
        if (seq > 0) this.confirmed(seq, result !== false && result !== null && !(Array.isArray(result) && result.includes(false)));
      },
      (err: unknown) => {
        this.appends.delete(all);
        this.conn.appendFinished();
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
    return this.conn.broker.exchanges.get(this.ex(exchange))?.arguments[DELAYED_MARKER_ARG] === true ? delay : 0;
  }

  /**
   * Holds a delayed publish in the core's delay scheduler (durable: survives restart and kill -9) for the
   * queue's stream; it is appended there when due. Resolves once the delayed record is durable.
   */
  private scheduleDelayed(q: Queue, body: Buffer, headers: RecordHeader[], timestamp: number, delayMs: number, priority: number | undefined): Promise<boolean> {
    const level = q.levels === 1 ? 0 : Math.max(0, Math.min(priority ?? 0, q.levels - 1));
    return this.conn.broker.scheduleDelayed(this.conn.principal, q.stream.name, level, { key: null, value: body, headers, timestamp }, timestamp + delayMs).then(() => true);
  }

  /**
   * Records the outcome of publish `seq`. Acks of the contiguous settled run are not sent one by one: the
   * connection asks for them when it writes (sendConfirms), so the publishes one fsync settles get one
   * basic.ack with `multiple` (at 2000 msg/s: about one frame per fsync instead of one per message). A nack
   * goes out at once, after the acks below it.
   */
  private confirmed(seq: number, ok: boolean): void {
    if (this.state === 'closed') return;
    if (ok && seq === this.confirmFloor + 1 && this.confirmDone.size === 0) {
      // Settled in order with nothing waiting behind it (the usual case): no map entry per message.
      this.confirmFloor = seq;
      this.askToSendConfirms();
      return;
    }
    this.confirmDone.set(seq, ok);
    for (;;) {
      const next = this.confirmFloor + 1;
      const outcome = this.confirmDone.get(next);
      if (outcome === undefined) break;
      this.confirmDone.delete(next);
      if (!outcome) {
        this.sendConfirms();
        this.conn.sendMethod(this.id, 'BasicNack', { deliveryTag: next, multiple: false, requeue: false });
        this.confirmSent = next;
      }
      this.confirmFloor = next;
    }
    if (this.confirmFloor > this.confirmSent) this.askToSendConfirms();
  }

  private askToSendConfirms(): void {
    if (this.confirmsAsked) return;
    this.confirmsAsked = true;
    this.conn.beforeWrite(this);
  }

  /** Sends one basic.ack for the settled publishes not yet reported (all acks: nacks are sent at once). */
  sendConfirms(): void {
    this.confirmsAsked = false;
    if (this.confirmFloor <= this.confirmSent || this.state === 'closed') return;
    this.conn.sendMethod(this.id, 'BasicAck', { deliveryTag: this.confirmFloor, multiple: this.confirmFloor > this.confirmSent + 1 });
    this.confirmSent = this.confirmFloor;
  }

  // --- consume ----------------------------------------------------------------------------------------

  private async consume(a: MethodArgs['BasicConsume']): Promise<void> {
    const conn = this.conn;
    if (a.queue === DIRECT_REPLY_TO) {
      this.consumeDirectReplyTo(a);
      return;
    }
    const q = conn.queues.require(this.queueName(a.queue), conn.owner);
    this.permit('read', 'queue', splitTenantName(q.name).name);
    let tag = a.consumerTag;
    if (tag === '') tag = `amq.ctag-${randomBytes(16).toString('base64url')}`;
    if (this.consumers.has(tag)) throw new AmqpError('NOT_ALLOWED', `attempt to reuse consumer tag '${tag}'`, 60, 20);
    if (q.exclusiveConsumer || (a.exclusive && q.consumerCount > 0)) {
      throw new AmqpError('ACCESS_REFUSED', `queue '${q.name}' in exclusive use`, 60, 20);
    }
    const args = fieldTableToObject(a.arguments);
    const priority = typeof args['x-priority'] === 'number' ? args['x-priority'] : 0;
    const consumerId = `${conn.owner}/${this.id}/${tag}`;
    let cursor: Cursor;
    if (!q.isStream) cursor = q.cursor;
    else {
      // RabbitMQ's rules for consuming a stream (rabbit_stream_queue:consume).
      if (a.noAck) throw new AmqpError('NOT_IMPLEMENTED', `automatic acknowledgement not supported by stream queues queue '${splitTenantName(q.name).name}'`, 60, 20);
      if (this.prefetchCount === 0) throw new AmqpError('PRECONDITION_FAILED', `consumer prefetch count is not set for queue '${splitTenantName(q.name).name}'`, 60, 20);
      if (this.channelPrefetch > 0) throw new AmqpError('NOT_IMPLEMENTED', `queue '${splitTenantName(q.name).name}' does not support global qos`, 60, 20);
      const start = streamStart(a.arguments.get('x-stream-offset'));
      cursor = await q.openReader(consumerId, start, (consumer, d) => (consumer.context as ChannelConsumer).deliver(d), (err) => {
        conn.deps.logger.warn({ err, cid: conn.id, queue: q.name }, 'amqp stream reader error');
      });
      if (this.state !== 'open' || this.consumers.has(tag)) {
        q.closeReader(cursor);
        if (this.state !== 'open') return;
        throw new AmqpError('NOT_ALLOWED', `attempt to reuse consumer tag '${tag}'`, 60, 20);
      }
    }
    const cc = new ChannelConsumer(this, tag, q, a.noAck, a.exclusive, cursor);
    this.consumers.set(tag, cc);
    // consume-ok must precede the first basic.deliver, which attach() may trigger synchronously.
    if (!a.nowait) conn.sendMethod(this.id, 'BasicConsumeOk', { consumerTag: tag });
    cc.consumer = cursor.attach({ id: consumerId, priority, prefetchCount: a.noAck ? 0 : this.prefetchCount, context: cc });
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
    for (const u of this.unacked.values()) if (u.consumerTag === cc.tag) this.markStale(u);
    if (cc.exclusive) cc.queue.exclusiveConsumer = false;
    if (cc.consumer !== null) {
      try {
        cc.cursor.detach(cc.consumer);
      } catch {
        // The queue was deleted: its cursor is gone with the records.
      }
    }
    if (cc.cursor !== cc.queue.sharedCursor) cc.queue.closeReader(cc.cursor);
  }

  /** The cursor's push delivery. Returns false when the socket is backed up (the cursor pauses the consumer). */
  deliver(cc: ChannelConsumer, d: Delivery): boolean {
    if (this.state !== 'open') return false;
    const tag = this.nextTag++;
    if (cc.noAck) {
      // Settle after the cursor's pump returns, not inside it.
      queueMicrotask(() => void cc.cursor.ack(d).catch(() => undefined));
    } else {
      this.unacked.set(tag, { queue: cc.queue, cursor: cc.cursor, delivery: d, consumerTag: cc.tag, stale: false });
      this.consumerUnacked++;
    }
    this.conn.traffic.messagesOut++;
    // The channel's one basic.deliver argument object: encodeContent fills and encodes it at once.
    const args = this.deliverArgs;
    args.consumerTag = cc.tag;
    args.deliveryTag = tag;
    args.redelivered = d.redelivered;
    this.conn.send(this.encodeContent('BasicDeliver', args, d, cc.queue.isStream));
    if (this.channelFull()) {
      // The channel's global prefetch is used up: every acking consumer of the channel waits for an ack.
      for (const other of this.consumers.values()) if (other.consumer !== null && !other.noAck) other.consumer.paused = true;
      return false;
    }
    return !this.conn.congested;
  }

  private channelFull(): boolean {
    return this.channelPrefetch > 0 && this.consumerUnacked >= this.channelPrefetch;
  }

  /** Resumes paused consumers once neither the socket nor the channel's global prefetch holds them back. */
  resumeConsumers(): void {
    for (const cc of this.consumers.values()) {
      // Re-checked per consumer: a resumed consumer may fill the socket or the channel's window again.
      if (this.conn.congested) return;
      if (cc.consumer !== null && cc.consumer.paused && (cc.noAck || !this.channelFull())) cc.cursor.resume(cc.consumer);
    }
  }

  /** An unacked consumer delivery is no longer held by the channel (settled, requeued, its consumer gone). */
  private released(u: Unacked): void {
    if (u.consumerTag === null || u.stale) return;
    const wasFull = this.channelFull();
    this.consumerUnacked--;
    if (wasFull && !this.channelFull()) queueMicrotask(() => this.resumeConsumers());
  }

  private markStale(u: Unacked): void {
    this.released(u);
    u.stale = true;
  }

  private async get(queueName: string, noAck: boolean): Promise<void> {
    const q = this.conn.queues.require(this.queueName(queueName), this.conn.owner);
    this.permit('read', 'queue', splitTenantName(q.name).name);
    if (q.isStream) throw new AmqpError('NOT_IMPLEMENTED', `basic.get not supported by stream queues queue '${splitTenantName(q.name).name}'`, 60, 70);
    this.conn.queues.touch(q);
    const d = await q.cursor.get({ autoAck: noAck });
    if (d === null) {
      this.conn.sendMethod(this.id, 'BasicGetEmpty', {});
      return;
    }
    const tag = this.nextTag++;
    if (!noAck) this.unacked.set(tag, { queue: q, cursor: q.cursor, delivery: d, consumerTag: null, stale: false });
    this.conn.traffic.messagesOut++;
    this.conn.send(this.encodeContent('BasicGetOk', { deliveryTag: tag, redelivered: d.redelivered, messageCount: q.messageCount }, d));
  }

  private encodeContent(
    name: 'BasicDeliver' | 'BasicGetOk',
    args: { consumerTag?: string; deliveryTag: number; redelivered: boolean; messageCount?: number },
    d: Delivery,
    streamOffset = false,
  ): Buffer {
    const record = d.record;
    let raw: Buffer | null = null;
    let exchange = '';
    let routingKey = '';
    const fields = record.headers;
    for (let i = 0; i < fields.length; i++) {
      const h = fields[i];
      if (h.value === null) continue;
      if (h.key === QUEUE_HEADERS.amqpProperties) raw = h.value;
      // The same few names come with every delivery: utf8Text shares the string decoded last time.
      else if (h.key === QUEUE_HEADERS.exchange) exchange = utf8Text(h.value, 0, h.value.length);
      else if (h.key === QUEUE_HEADERS.routingKey) routingKey = utf8Text(h.value, 0, h.value.length);
    }
    const body = record.value ?? EMPTY;
    let full: MethodArgs['BasicDeliver'] | MethodArgs['BasicGetOk'];
    if (name === 'BasicDeliver') {
      // Every field is set here before encoding, so nothing of the previous delivery can remain in it.
      const reused = this.deliverArgs;
      reused.consumerTag = args.consumerTag!;
      reused.deliveryTag = args.deliveryTag;
      reused.redelivered = args.redelivered;
      reused.exchange = exchange;
      reused.routingKey = routingKey;
      full = reused;
    } else {
      full = { deliveryTag: args.deliveryTag, redelivered: args.redelivered, exchange, routingKey, messageCount: args.messageCount! };
    }
    const rawUsable = raw !== null && raw.length >= 12 && raw.readUInt32BE(8) === body.length && raw.readUInt32BE(4) === 0;
    if (rawUsable && !streamOffset) return encodeMethodWithRawContent(this.id, name, full as never, raw!, body, this.conn.frameMax);
    const props = rawUsable ? decodeContentHeader(raw!).properties : propertiesFromRecord(record.headers);
    if (streamOffset) {
      // RabbitMQ streams tell each delivery its offset in the log.
      const headers: FieldTable = new Map(props.headers ?? []);
      headers.set(STREAM_OFFSET_ARG, { type: 'l', value: BigInt(d.offset) });
      props.headers = headers;
    }
    return encodeMethodWithContent(this.id, name, full as never, basicContentHeader(body.length, props), body, this.conn.frameMax);
  }

  // --- settling ---------------------------------------------------------------------------------------

  private settle(tag: number, multiple: boolean, how: 'ack' | 'nack', requeue: boolean): void {
    const apply = (t: number, u: Unacked): void => {
      if (how === 'nack' && u.queue.isStream) {
        throw new AmqpError('NOT_IMPLEMENTED', `basic.nack and basic.reject not supported by stream queues queue '${splitTenantName(u.queue.name).name}'`, 60, 120);
      }
      this.unacked.delete(t);
      if (u.stale) return;
      this.released(u);
      const cursor = u.cursor;
      try {
        const done = how === 'ack' ? cursor.ack(u.delivery) : cursor.nack(u.delivery, { requeue });
        // The cursor store shares one promise among the settles of a write cycle: watch each promise once, not
        // with a closure and a promise per settled message (a failed write is logged once, not once per message).
        if (done !== this.settleWatched) {
          this.settleWatched = done;
          done.catch(this.onSettleFailed);
        }
      } catch {
        // The queue was deleted or the record was already requeued: nothing left to settle.
      }
    };
    if (multiple) {
      if (tag !== 0 && tag >= this.nextTag) throw new AmqpError('PRECONDITION_FAILED', `unknown delivery tag ${tag}`, 60, how === 'ack' ? 80 : 120);
      const end = tag === 0 ? this.nextTag - 1 : tag;
      if (end - this.lowestUnacked < 4 * this.unacked.size) {
        // Tags are handed out in sequence, so the settled ones lie between the hint and `end`: look them up
        // (a consumer acking every 100 of 1000 in flight visits 100 tags, not the table's 1000 keys as text).
        for (let t = this.lowestUnacked; t <= end; t++) {
          const u = this.unacked.get(t);
          if (u !== undefined) apply(t, u);
        }
      } else {
        // Sparse (tags taken by no-ack deliveries in between): walk the table, in tag order; deleting the
        // visited entry while iterating is safe.
        for (const [t, u] of this.unacked) {
          if (t > end) break;
          apply(t, u);
        }
      }
      if (end >= this.lowestUnacked) this.lowestUnacked = end + 1;
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
      this.released(u);
      try {
        void u.cursor.nack(u.delivery, { requeue: true }).catch(() => undefined);
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
    for (const u of this.unacked.values()) if (u.queue === queue) this.markStale(u);
  }
}

/** [class-id, method-id] of a method name, for channel.close / connection.close. */
function methodIds(name: string): [number, number] {
  const spec = METHOD_IDS.get(name);
  return spec ?? [0, 0];
}

const METHOD_IDS = new Map<string, [number, number]>(Object.values(METHODS).map((m) => [m.name, [m.classId, m.methodId]]));

/** The record headers of a published message: the raw properties plus the mapped ones (docs/interop.md). */
const NO_PUBLISH_OPTIONS: PublishOptions = {};
/** A queue publish's per-message options (QueueRegistry.publish). */
interface PublishOptions {
  priority?: number;
  expirationMs?: number;
}
/** The exchange type of RabbitMQ's delayed-message plugin, and the argument marking such an exchange here. */
const DELAYED_EXCHANGE_TYPE = 'x-delayed-message';
const DELAYED_MARKER_ARG = 'x-tributary-delayed-message';
const isStored = (ack: unknown): boolean => ack !== null;

/** The subject of an amq.topic routing key, or null (the empty key; one too long to be a subject). */
function topicSubject(routingKey: string): string | null {
  try {
    return amqpRoutingKeyToSubject(routingKey);
  } catch {
    return null;
  }
}

/** The consume argument and delivery header of RabbitMQ streams. */
const STREAM_OFFSET_ARG = 'x-stream-offset';

/**
 * Where a stream consumer starts, from its x-stream-offset argument as RabbitMQ reads it (parse_offset_arg):
 * absent or `next` → new messages only, `first`, `last` (the last message), a number (an offset, clamped to
 * the log), an AMQP timestamp (seconds) or an interval string like `1h` (that long ago). Anything else is 406.
 */
function streamStart(v: FieldValue | undefined): StartPolicy {
  if (v === undefined) return { kind: 'new' };
  if (v.type === 'T') return { kind: 'time', timestampMs: Number(v.value) * 1000 };
  if (v.type === 'S') {
    const text = v.value.toString('utf8');
    if (text === 'first') return { kind: 'all' };
    if (text === 'last') return { kind: 'last' };
    if (text === 'next') return { kind: 'new' };
    const ago = parseMaxAge(text);
    if (ago !== null) return { kind: 'time', timestampMs: Date.now() - ago };
  } else if (v.type === 'b' || v.type === 'B' || v.type === 's' || v.type === 'u' || v.type === 'I' || v.type === 'i' || v.type === 'l') {
    const n = Number(v.value);
    if (Number.isSafeInteger(n) && n >= 0) return { kind: 'offset', offset: n };
  }
  throw new AmqpError('PRECONDITION_FAILED', `invalid x-stream-offset ${JSON.stringify(fieldValueToPlain(v))}`, 60, 20);
}

/** The expiration property as milliseconds (RabbitMQ: a non-negative integer in a string; else 406). */
function expirationOf(expiration: string | undefined): number | undefined {
  if (expiration === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(expiration)) throw new AmqpError('PRECONDITION_FAILED', `invalid expiration '${expiration}'`, 60, 40);
  return Number(expiration);
}

export function recordHeaders(rawHeader: Buffer, props: BasicProperties, exchange: string, routingKey: string): RecordHeader[] {
  const out: RecordHeader[] = [
    { key: QUEUE_HEADERS.amqpProperties, value: rawHeader },
    { key: QUEUE_HEADERS.exchange, value: utf8Bytes(exchange, 0) },
    { key: QUEUE_HEADERS.routingKey, value: utf8Bytes(routingKey, 1) },
  ];
  addStringHeader(out, QUEUE_HEADERS.contentType, props.contentType);
  addStringHeader(out, QUEUE_HEADERS.contentEncoding, props.contentEncoding);
  addStringHeader(out, QUEUE_HEADERS.correlationId, props.correlationId);
  addStringHeader(out, QUEUE_HEADERS.messageId, props.messageId);
  addStringHeader(out, QUEUE_HEADERS.replyTo, props.replyTo);
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

function addStringHeader(out: RecordHeader[], key: string, v: string | undefined): void {
  if (v !== undefined) out.push({ key, value: Buffer.from(v, 'utf8') });
}

/**
 * The exchange and routing key of consecutive publishes are nearly always the same strings: the last encoding of
 * each (slot 0 exchange, slot 1 routing key) is reused rather than a new Buffer per message. Record header values
 * are only ever read (copied into the record batch, sent to consumers), so records may share one.
 */
const lastUtf8Strings: string[] = ['', ''];
const lastUtf8Bytes: Buffer[] = [Buffer.alloc(0), Buffer.alloc(0)];

function utf8Bytes(s: string, slot: 0 | 1): Buffer {
  if (lastUtf8Strings[slot] !== s) {
    lastUtf8Strings[slot] = s;
    lastUtf8Bytes[slot] = Buffer.from(s, 'utf8');
  }
  return lastUtf8Bytes[slot];
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
