/**
 * Exchange: a named AMQP routing table (DESIGN.md "Core model"). Given a routing key and headers it returns the
 * destinations to append to — queue names and, for exchange-to-exchange bindings, exchange names that the
 * ExchangeRegistry then follows. Semantics are RabbitMQ's:
 *
 * - direct:  a binding matches when its routing key equals the message's (arguments ignored).
 * - fanout:  every binding matches (routing key and arguments ignored).
 * - topic:   the binding key is a pattern of `.`-separated words, `*` one word, `#` zero or more words
 *            (AmqpTopicTrie; `a.#` matches `a`, `#.b` matches `b` and `x.y.b`, the empty key has zero words).
 * - headers: the binding's arguments are matched against the message headers; `x-match` chooses how:
 *            `all` (default) every argument, `any` at least one; keys starting with `x-` are ignored, except with
 *            `all-with-x` / `any-with-x`, which include them (never `x-match` itself). An argument whose value is
 *            void (null) matches on presence; otherwise values compare as RabbitMQ's `==` does: numbers by value
 *            whatever their width (1 == 1.0 == 1n), strings and byte arrays by bytes, tables and arrays deeply.
 *            `all` with no arguments matches every message; `any` with none matches nothing.
 * - the default exchange `''`: routes to the queue named by the routing key; it cannot be bound or unbound
 *   (every queue is bound to it implicitly).
 *
 * Bindings are data: a binding is (destination kind, destination name, routing key, arguments), identified by
 * all four (binding twice is one binding; unbind must name the same arguments), and `toJSON()`/`fromJSON()`
 * give a plain JSON descriptor for the MetadataStore. Argument values that JSON cannot hold losslessly are tagged:
 * bytes `{"$bytes": base64}`, bigints `{"$bigint": "123"}`, non-finite numbers `{"$number": "NaN"}`, dates
 * `{"$date": ms}`, and nested tables `{"$table": {...}}` (always, so a table can never be mistaken for a tag).
 *
 * Invariants: routing is read-only and allocates only its result sets (a topic exchange's match is cached per
 * routing key); bind/unbind keep the per-type index and the binding list consistent. The flags durable,
 * autoDelete, internal and the arguments are carried, not acted on here: the registry implements auto-delete,
 * the alternate exchange and the internal check.
 */
import { BrokerError } from './broker-error.js';
import type { JsonValue } from './metadata.js';
import { AmqpTopicTrie } from './router/amqp-topic-trie.js';

export type ExchangeType = 'direct' | 'fanout' | 'topic' | 'headers';
export const EXCHANGE_TYPES: readonly ExchangeType[] = ['direct', 'fanout', 'topic', 'headers'];

/** The default exchange's name. */
export const DEFAULT_EXCHANGE = '';
/** Declare argument naming the alternate exchange (unroutable messages go there). */
export const ALTERNATE_EXCHANGE_ARG = 'alternate-exchange';
/** Longest exchange name (AMQP shortstr), in UTF-8 bytes. */
export const MAX_EXCHANGE_NAME_BYTES = 255;

export type HeadersMatchMode = 'all' | 'any' | 'all-with-x' | 'any-with-x';
const HEADERS_MATCH_MODES: readonly HeadersMatchMode[] = ['all', 'any', 'all-with-x', 'any-with-x'];

export type DestinationKind = 'queue' | 'exchange';

export interface Destination {
  readonly kind: DestinationKind;
  readonly name: string;
}

/** An AMQP field table as decoded: string keys, values of any field type (null = void). */
export type FieldTable = { readonly [key: string]: unknown };

export interface Binding {
  readonly destination: Destination;
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

export interface ExchangeOptions {
  name: string;
  type: ExchangeType;
  /** Survives a restart (persisted by the caller). Default false, as in exchange.declare. */
  durable?: boolean;
  /** Deleted by the registry when its last binding (as source) is removed. Default false. */
  autoDelete?: boolean;
  /** Publishers cannot publish to it directly; only exchanges bound to it route into it. Default false. */
  internal?: boolean;
  /** Declare arguments (`alternate-exchange`, ...). */
  arguments?: FieldTable;
}

/** Destinations of one routing step. */
export interface RouteResult {
  queues: Set<string>;
  exchanges: Set<string>;
}

export interface BindingDefinition {
  destinationKind: DestinationKind;
  destination: string;
  routingKey: string;
  arguments: { [key: string]: JsonValue };
}

/** The JSON form of an exchange and its bindings (MetadataStore kind 'exchange'). */
export interface ExchangeDefinition {
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: { [key: string]: JsonValue };
  bindings: BindingDefinition[];
}

declare module './metadata.js' {
  interface MetadataKinds {
    exchange: ExchangeDefinition;
  }
}

/** A headers binding with its match mode and the arguments that take part, resolved once at bind time. */
interface HeadersBinding {
  binding: Binding;
  any: boolean;
  keys: string[];
  values: unknown[];
}

export class Exchange {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
  private readonly byId = new Map<string, Binding>();
  private readonly direct: Map<string, Binding[]> | null;
  private readonly topic: AmqpTopicTrie<Binding> | null;
  private readonly headers: HeadersBinding[] | null;
  /** Fanout's destination list, rebuilt on change so route() walks an array. */
  private fanout: Binding[] | null = null;

  constructor(options: ExchangeOptions) {
    if (!EXCHANGE_TYPES.includes(options.type)) {
      throw new BrokerError('TRIB_INVALID_CONFIG', `unknown exchange type '${String(options.type)}' (expected one of ${EXCHANGE_TYPES.join(', ')})`);
    }
    if (typeof options.name !== 'string' || Buffer.byteLength(options.name) > MAX_EXCHANGE_NAME_BYTES) {
      throw new BrokerError('TRIB_INVALID_NAME', `exchange name must be a string of at most ${MAX_EXCHANGE_NAME_BYTES} UTF-8 bytes`);
    }
    const args = options.arguments ?? {};
    const ae = args[ALTERNATE_EXCHANGE_ARG];
    if (ae !== undefined && ae !== null && typeof ae !== 'string' && !(ae instanceof Uint8Array)) {
      throw new BrokerError('TRIB_INVALID_CONFIG', `exchange '${options.name}': '${ALTERNATE_EXCHANGE_ARG}' must be a string`);
    }
    this.name = options.name;
    this.type = options.type;
    this.durable = options.durable === true;
    this.autoDelete = options.autoDelete === true;
    this.internal = options.internal === true;
    this.arguments = Object.freeze({ ...args });
    this.direct = this.type === 'direct' ? new Map() : null;
    this.topic = this.type === 'topic' ? new AmqpTopicTrie<Binding>() : null;
    this.headers = this.type === 'headers' ? [] : null;
  }

  /** Rebuilds an exchange from its JSON form (bindings included). Throws like the constructor and bind(). */
  static fromJSON(def: ExchangeDefinition): Exchange {
    const ex = new Exchange({
      name: def.name,
      type: def.type,
      durable: def.durable,
      autoDelete: def.autoDelete,
      internal: def.internal,
      arguments: decodeFieldTable(def.arguments ?? {}),
    });
    for (const b of def.bindings ?? []) ex.bind({ kind: b.destinationKind, name: b.destination }, b.routingKey, decodeFieldTable(b.arguments ?? {}));
    return ex;
  }

  /** True for the default exchange `''`. */
  get isDefault(): boolean {
    return this.name === DEFAULT_EXCHANGE;
  }

  /** The `alternate-exchange` argument, if any. */
  get alternateExchange(): string | undefined {
    const ae = this.arguments[ALTERNATE_EXCHANGE_ARG];
    if (typeof ae === 'string') return ae;
    if (ae instanceof Uint8Array) return Buffer.from(ae.buffer, ae.byteOffset, ae.byteLength).toString('utf8');
    return undefined;
  }

  get bindingCount(): number {
    return this.byId.size;
  }

  /** Every binding, in bind order. */
  bindings(): Binding[] {
    return [...this.byId.values()];
  }

  hasBinding(destination: Destination, routingKey = '', args: FieldTable = {}): boolean {
    return this.byId.has(bindingId(destination, routingKey, args));
  }

  /**
   * Adds a binding; false when the same binding exists. Throws TRIB_EXCHANGE_RESERVED on the default exchange and
   * TRIB_INVALID_CONFIG for a headers binding with an invalid `x-match`.
   */
  bind(destination: Destination, routingKey = '', args: FieldTable = {}): boolean {
    this.assertBindable();
    checkDestination(destination);
    if (typeof routingKey !== 'string') throw new BrokerError('TRIB_INVALID_CONFIG', 'a binding routing key must be a string');
    const id = bindingId(destination, routingKey, args);
    if (this.byId.has(id)) return false;
    const binding: Binding = Object.freeze({ destination: Object.freeze({ kind: destination.kind, name: destination.name }), routingKey, arguments: Object.freeze({ ...args }) });
    // Compile before storing, so an invalid x-match leaves the exchange unchanged.
    const compiled = this.headers !== null ? compileHeadersBinding(binding, this.name) : null;
    this.byId.set(id, binding);
    if (this.direct !== null) {
      const list = this.direct.get(routingKey);
      this.direct.set(routingKey, list === undefined ? [binding] : [...list, binding]);
    } else if (this.topic !== null) {
      this.topic.insert(routingKey, binding);
    } else if (compiled !== null) {
      this.headers!.push(compiled);
    }
    this.fanout = null;
    return true;
  }

  /** Removes a binding (same destination, routing key and arguments); false when there was none. */
  unbind(destination: Destination, routingKey = '', args: FieldTable = {}): boolean {
    this.assertBindable();
    const id = bindingId(destination, routingKey, args);
    const binding = this.byId.get(id);
    if (binding === undefined) return false;
    this.byId.delete(id);
    this.unindex(binding);
    return true;
  }

  /** Removes every binding to `destination` (it was deleted); returns how many. */
  unbindDestination(destination: Destination): number {
    let n = 0;
    for (const [id, b] of this.byId) {
      if (b.destination.kind !== destination.kind || b.destination.name !== destination.name) continue;
      this.byId.delete(id);
      this.unindex(b);
      n++;
    }
    return n;
  }

  /** True when some binding has this destination. */
  isBoundTo(destination: Destination): boolean {
    for (const b of this.byId.values()) if (b.destination.kind === destination.kind && b.destination.name === destination.name) return true;
    return false;
  }

  /**
   * The destinations a message with this routing key and headers goes to, added to `into` (fresh sets when not
   * given). Headers matter only to a headers exchange.
   */
  route(routingKey: string, headers?: FieldTable, into: RouteResult = { queues: new Set(), exchanges: new Set() }): RouteResult {
    if (this.isDefault) {
      into.queues.add(routingKey);
      return into;
    }
    switch (this.type) {
      case 'direct':
        addAll(this.direct!.get(routingKey), into);
        break;
      case 'fanout':
        addAll((this.fanout ??= [...this.byId.values()]), into);
        break;
      case 'topic':
        addAll(this.topic!.match(routingKey), into);
        break;
      case 'headers': {
        const table = headers ?? {};
        for (const hb of this.headers!) if (headersMatch(hb, table)) addDestination(hb.binding, into);
        break;
      }
    }
    return into;
  }

  /** The JSON descriptor (bindings included), for the MetadataStore. */
  toJSON(): ExchangeDefinition {
    return {
      name: this.name,
      type: this.type,
      durable: this.durable,
      autoDelete: this.autoDelete,
      internal: this.internal,
      arguments: encodeFieldTable(this.arguments),
      bindings: [...this.byId.values()].map((b) => ({
        destinationKind: b.destination.kind,
        destination: b.destination.name,
        routingKey: b.routingKey,
        arguments: encodeFieldTable(b.arguments),
      })),
    };
  }

  private assertBindable(): void {
    // AMQP 403 ACCESS_REFUSED: "operation not permitted on the default exchange".
    if (this.isDefault) throw new BrokerError('TRIB_EXCHANGE_RESERVED', 'operation not permitted on the default exchange: every queue is bound to it by name');
  }

  private unindex(binding: Binding): void {
    if (this.direct !== null) {
      const list = this.direct.get(binding.routingKey);
      if (list !== undefined) {
        // Copy-on-write: a route() caller may still be iterating the old array.
        const rest = list.filter((b) => b !== binding);
        if (rest.length === 0) this.direct.delete(binding.routingKey);
        else this.direct.set(binding.routingKey, rest);
      }
    } else if (this.topic !== null) {
      this.topic.remove(binding.routingKey, binding);
    } else if (this.headers !== null) {
      const i = this.headers.findIndex((hb) => hb.binding === binding);
      if (i >= 0) this.headers.splice(i, 1);
    }
    this.fanout = null;
  }
}

function checkDestination(destination: Destination): void {
  if (destination === null || typeof destination !== 'object' || (destination.kind !== 'queue' && destination.kind !== 'exchange') || typeof destination.name !== 'string') {
    throw new BrokerError('TRIB_INVALID_CONFIG', "a binding destination is { kind: 'queue' | 'exchange', name: string }");
  }
}

function addDestination(b: Binding, into: RouteResult): void {
  if (b.destination.kind === 'queue') into.queues.add(b.destination.name);
  else into.exchanges.add(b.destination.name);
}

function addAll(bindings: readonly Binding[] | undefined, into: RouteResult): void {
  if (bindings === undefined) return;
  for (let i = 0; i < bindings.length; i++) addDestination(bindings[i], into);
}

// ---- headers matching ----

function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  return undefined;
}

function compileHeadersBinding(binding: Binding, exchange: string): HeadersBinding {
  const args = binding.arguments;
  let mode: HeadersMatchMode = 'all';
  if (Object.hasOwn(args, 'x-match') && args['x-match'] !== null && args['x-match'] !== undefined) {
    const m = asText(args['x-match']);
    if (m === undefined || !HEADERS_MATCH_MODES.includes(m as HeadersMatchMode)) {
      // RabbitMQ: 406 PRECONDITION_FAILED "Invalid x-match field value".
      throw new BrokerError('TRIB_INVALID_CONFIG', `invalid x-match value ${JSON.stringify(m ?? String(args['x-match']))} binding to headers exchange '${exchange}' (expected ${HEADERS_MATCH_MODES.join(', ')})`);
    }
    mode = m as HeadersMatchMode;
  }
  const withX = mode === 'all-with-x' || mode === 'any-with-x';
  const keys: string[] = [];
  const values: unknown[] = [];
  for (const key of Object.keys(args)) {
    if (key === 'x-match') continue;
    if (!withX && key.startsWith('x-')) continue;
    keys.push(key);
    values.push(args[key]);
  }
  return { binding, any: mode === 'any' || mode === 'any-with-x', keys, values };
}

function headersMatch(hb: HeadersBinding, headers: FieldTable): boolean {
  const { keys, values } = hb;
  if (hb.any) {
    for (let i = 0; i < keys.length; i++) {
      if (!Object.hasOwn(headers, keys[i])) continue;
      const want = values[i];
      // A void binding value matches on the header's presence alone.
      if (want === null || want === undefined || fieldValuesEqual(want, headers[keys[i]])) return true;
    }
    return false;
  }
  for (let i = 0; i < keys.length; i++) {
    if (!Object.hasOwn(headers, keys[i])) return false;
    const want = values[i];
    if (want !== null && want !== undefined && !fieldValuesEqual(want, headers[keys[i]])) return false;
  }
  return true;
}

function asBytes(v: unknown): Buffer | undefined {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

/**
 * Equality of two field values as RabbitMQ's headers exchange compares them (Erlang `==`): numbers by value
 * across int/float/bigint, strings and byte arrays by their bytes, arrays and tables deeply, void equals void.
 */
export function fieldValuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return (a === null || a === undefined) && (b === null || b === undefined);
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === 'number' || ta === 'bigint') && (tb === 'number' || tb === 'bigint')) {
    // Loose equality compares a bigint and a number by mathematical value, which is what Erlang `==` does.
    return (a as number) == (b as number);
  }
  if (ta === 'string' || a instanceof Uint8Array) {
    const x = asBytes(a);
    const y = asBytes(b);
    return x !== undefined && y !== undefined && x.equals(y);
  }
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!fieldValuesEqual(a[i], b[i])) return false;
    return true;
  }
  if (ta === 'object' && tb === 'object') {
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    if (ka.length !== kb.length) return false;
    for (const k of ka) if (!Object.hasOwn(b as object, k) || !fieldValuesEqual((a as FieldTable)[k], (b as FieldTable)[k])) return false;
    return true;
  }
  return false;
}

// ---- JSON form of field values ----

/** A field value as lossless JSON (see the header for the tags). */
export function encodeFieldValue(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'boolean':
    case 'string':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : { $number: String(v) };
    case 'bigint':
      return { $bigint: v.toString() };
    case 'object':
      if (v instanceof Uint8Array) return { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
      if (v instanceof Date) return { $date: v.getTime() };
      if (Array.isArray(v)) return v.map(encodeFieldValue);
      return { $table: encodeFieldTable(v as FieldTable) };
    default:
      throw new BrokerError('TRIB_INVALID_CONFIG', `a ${typeof v} cannot be an argument value`);
  }
}

/** Inverse of encodeFieldValue. An object with no known tag is read as a table (forward compatibility). */
export function decodeFieldValue(j: JsonValue): unknown {
  if (j === null || typeof j !== 'object') return j;
  if (Array.isArray(j)) return j.map(decodeFieldValue);
  const keys = Object.keys(j);
  if (keys.length === 1) {
    const tag = keys[0];
    const x = j[tag];
    if (tag === '$bytes' && typeof x === 'string') return Buffer.from(x, 'base64');
    if (tag === '$bigint' && typeof x === 'string') return BigInt(x);
    if (tag === '$number' && typeof x === 'string') return Number(x);
    if (tag === '$date' && typeof x === 'number') return new Date(x);
    if (tag === '$table' && x !== null && typeof x === 'object' && !Array.isArray(x)) return decodeFieldTable(x);
  }
  return decodeFieldTable(j);
}

// Null-prototype results: a wire table may have the key `__proto__`, which must stay an ordinary key.
export function encodeFieldTable(t: FieldTable): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = Object.create(null);
  for (const k of Object.keys(t)) out[k] = encodeFieldValue(t[k]);
  return out;
}

export function decodeFieldTable(j: { [key: string]: JsonValue }): { [key: string]: unknown } {
  const out: { [key: string]: unknown } = Object.create(null);
  for (const k of Object.keys(j)) out[k] = decodeFieldValue(j[k]);
  return out;
}

/** Canonical JSON (keys sorted at every level) of a field table: binding identity ignores key order. */
function canonical(j: JsonValue): string {
  if (j === null || typeof j !== 'object') return JSON.stringify(j);
  if (Array.isArray(j)) return `[${j.map(canonical).join(',')}]`;
  return `{${Object.keys(j)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(j[k])}`)
    .join(',')}}`;
}

function bindingId(destination: Destination, routingKey: string, args: FieldTable): string {
  const argsId = Object.keys(args).length === 0 ? '{}' : canonical(encodeFieldTable(args));
  return `${destination.kind}\u0000${destination.name}\u0000${routingKey}\u0000${argsId}`;
}
