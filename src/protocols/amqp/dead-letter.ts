/**
 * Dead-letter exchanges (RabbitMQ's x-dead-letter-exchange / x-dead-letter-routing-key): the QueueRegistry's
 * dead-letter handler for AMQP. A message a queue dead-letters (rejected without requeue, expired, dropped or
 * refused by x-max-length, past a delivery limit) is republished through the queue's dead-letter exchange with
 * its history in the `x-death` header, built as RabbitMQ builds it: an array of tables, most recent first, one
 * per (queue, reason) with `count`, `reason`, `queue`, `time`, `exchange`, `routing-keys` (and
 * `original-expiration` when the message had one), plus `x-first-death-*` and `x-last-death-*`. The
 * `expiration` property is removed (RabbitMQ keeps it in x-death). The source acks the message once the
 * republish is durable in every routed queue (the cursor waits on the returned promise).
 *
 * A dead-letter exchange that does not exist, or routes nowhere, drops the message, as RabbitMQ does.
 */
import type { Broker, BrokerLogger } from '../../core/broker.js';
import { QUEUE_HEADERS, type DeadLetterMessage, type Queue, type QueueDeadLetterHandler, type QueueDeadLetterReason, type QueueRegistry } from '../../core/queue-registry.js';
import { basicContentHeader, decodeContentHeader, encodeContentHeader, fieldTableToObject, type BasicProperties, type FieldTable, type FieldValue } from './codec/index.js';
import { propertiesFromRecord, recordHeaders } from './channel.js';
import { splitTenantName, tenantName } from '../../core/exchange-registry.js';

const str = (s: string): FieldValue => ({ type: 'S', value: Buffer.from(s, 'utf8') });

/** The handler the AMQP listener installs on the QueueRegistry. */
export function amqpDeadLetterHandler(broker: Broker, registry: QueueRegistry, logger: BrokerLogger): QueueDeadLetterHandler {
  return async (queue, message, reason) => {
    const dlx = queue.args.deadLetterExchange;
    if (dlx === undefined) return;
    const { properties, exchange, routingKey } = originalOf(message);
    const props = withXDeath(properties, queue, reason, exchange, routingKey, Date.now());
    const rk = queue.args.deadLetterRoutingKey ?? routingKey;
    // The DLX (and the default exchange's target queue) are named within the queue's vhost.
    const tenant = splitTenantName(queue.name).tenant;
    let routed: Iterable<string>;
    try {
      routed = broker.exchanges.route(tenantName(tenant, dlx), dlx === '' ? tenantName(tenant, rk) : rk, props.headers === undefined ? undefined : fieldTableToObject(props.headers), { allowInternal: true });
    } catch (err) {
      logger.debug({ err, queue: queue.name, dlx }, 'dead-letter exchange unusable; message dropped');
      return;
    }
    const value = message.value ?? Buffer.alloc(0);
    const raw = encodeContentHeader(basicContentHeader(value.length, props));
    const headers = recordHeaders(raw, props, dlx, rk);
    const appends: Promise<unknown>[] = [];
    const now = Date.now();
    for (const name of routed) {
      const q = registry.get(name);
      if (q !== undefined && isCycle(props, splitTenantName(name).name)) {
        logger.debug({ queue: queue.name, target: name }, 'dead-letter cycle without a rejection; message dropped');
        continue;
      }
      if (q !== undefined) appends.push(registry.publish(q, value, headers, now, { priority: props.priority }));
    }
    await Promise.all(appends);
  };
}

/** The message's AMQP properties and where it was published (exchange, routing key). */
function originalOf(message: DeadLetterMessage): { properties: BasicProperties; exchange: string; routingKey: string } {
  let raw: Buffer | null = null;
  let exchange = '';
  let routingKey = '';
  for (const h of message.headers) {
    if (h.value === null) continue;
    if (h.key === QUEUE_HEADERS.amqpProperties) raw = h.value;
    else if (h.key === QUEUE_HEADERS.exchange) exchange = h.value.toString('utf8');
    else if (h.key === QUEUE_HEADERS.routingKey) routingKey = h.value.toString('utf8');
  }
  let properties: BasicProperties;
  try {
    properties = raw !== null ? decodeContentHeader(raw).properties : propertiesFromRecord(message.headers);
  } catch {
    properties = propertiesFromRecord(message.headers);
  }
  return { properties, exchange, routingKey };
}

/** Properties with the x-death history updated for one more dead-lettering (RabbitMQ's rules). */
export function withXDeath(properties: BasicProperties, queue: Queue, reason: QueueDeadLetterReason, exchange: string, routingKey: string, nowMs: number): BasicProperties {
  // x-death names the queue as its clients know it (without the vhost scope).
  const queueName = splitTenantName(queue.name).name;
  const headers: FieldTable = new Map(properties.headers ?? []);
  const previous = headers.get('x-death');
  const deaths: FieldValue[] = previous?.type === 'A' ? [...previous.value] : [];
  const time: FieldValue = { type: 'T', value: BigInt(Math.floor(nowMs / 1000)) };
  const index = deaths.findIndex((d) => d.type === 'F' && textOf(d.value.get('queue')) === queueName && textOf(d.value.get('reason')) === reason);
  let entry: FieldTable;
  if (index >= 0) {
    entry = new Map((deaths[index] as { type: 'F'; value: FieldTable }).value);
    deaths.splice(index, 1);
    const count = entry.get('count');
    const n = count === undefined ? 0n : count.type === 'l' || count.type === 'T' ? count.value : typeof count.value === 'number' ? BigInt(count.value) : 0n;
    entry.set('count', { type: 'l', value: n + 1n });
    entry.set('time', time);
  } else {
    entry = new Map<string, FieldValue>([
      ['count', { type: 'l', value: 1n }],
      ['reason', str(reason)],
      ['queue', str(queueName)],
      ['time', time],
      ['exchange', str(exchange)],
      ['routing-keys', { type: 'A', value: [str(routingKey)] }],
    ]);
    if (properties.expiration !== undefined) entry.set('original-expiration', str(properties.expiration));
  }
  deaths.unshift({ type: 'F', value: entry });
  headers.set('x-death', { type: 'A', value: deaths });
  if (!headers.has('x-first-death-reason')) {
    headers.set('x-first-death-reason', str(reason));
    headers.set('x-first-death-queue', str(queueName));
    headers.set('x-first-death-exchange', str(exchange));
  }
  headers.set('x-last-death-reason', str(reason));
  headers.set('x-last-death-queue', str(queueName));
  headers.set('x-last-death-exchange', str(exchange));
  const out: BasicProperties = { ...properties, headers };
  delete out.expiration;
  return out;
}

/**
 * RabbitMQ's cycle rule: a message whose history reaches `target` again with no rejection on the way (e.g. a
 * queue that dead-letters expired messages to itself) is dropped, so it cannot loop forever.
 */
function isCycle(props: BasicProperties, target: string): boolean {
  const deaths = props.headers?.get('x-death');
  if (deaths?.type !== 'A') return false;
  for (const d of deaths.value) {
    if (d.type !== 'F') continue;
    if (textOf(d.value.get('reason')) === 'rejected') return false;
    if (textOf(d.value.get('queue')) === target) return true;
  }
  return false;
}

function textOf(v: FieldValue | undefined): string | undefined {
  return v !== undefined && (v.type === 'S' || v.type === 'x') ? v.value.toString('utf8') : undefined;
}
