/**
 * ExchangeRegistry: the exchanges of one broker (one vhost) and the routing across them, with RabbitMQ's rules:
 *
 * - Predeclared: the default exchange `''` (direct, routes by queue name) and amq.direct, amq.fanout, amq.topic,
 *   amq.headers, amq.match (headers), all durable.
 * - declare(): creates, or checks equivalence with the existing exchange — type, durable, autoDelete, internal and
 *   the `alternate-exchange` argument must match, as RabbitMQ's assert_equivalence checks; other arguments are
 *   not compared. A difference is TRIB_EXCHANGE_EXISTS (AMQP 406 PRECONDITION_FAILED) naming the argument and
 *   both values. Passive declare only checks existence (TRIB_EXCHANGE_NOT_FOUND, 404). A new name starting with
 *   `amq.`, and any declare of `''`, is TRIB_EXCHANGE_RESERVED (403 ACCESS_REFUSED).
 * - delete(): idempotent for unknown names; `ifUnused` refuses an exchange that still has bindings as source
 *   (TRIB_EXCHANGE_IN_USE, 406); `''` and amq.* cannot be deleted (TRIB_EXCHANGE_RESERVED). Deleting an exchange
 *   also removes the bindings to it from other exchanges.
 * - auto-delete: an autoDelete exchange is deleted when its last binding as source goes (unbind, its queue or
 *   destination exchange deleted) — not merely because it has none after declare. This cascades.
 * - route(): follows exchange-to-exchange bindings breadth-first, visiting each exchange at most once, so a
 *   binding cycle terminates (RabbitMQ's route1 with its seen set). When an exchange's own bindings give no
 *   destination at all, its alternate exchange (if it exists) is visited instead. Exchange destinations that do
 *   not exist are skipped. Publishing to an internal exchange is refused (TRIB_EXCHANGE_INTERNAL, 403) unless the
 *   caller is the broker itself (dead-lettering).
 *
 * - tenants (AMQP virtual hosts): a tenant's exchanges and queues live in this one registry under scoped names
 *   `<tenant>\0<name>` (tenantName); the default tenant `/` is unprefixed. addTenant() predeclares the tenant's
 *   amq.* exchanges; the reserved `amq.` prefix is checked on the unscoped name. This registry keeps tenants in
 *   memory only: the Broker persists the ones created at run time (`vhost` records, createVhost) and re-adds them
 *   at open, the AMQP listener adds the configured ones at every start, and deleteVhost uses removeTenant then
 *   removeTenantExchanges (their durable exchanges are restored with the rest).
 *
 * Mutators return what they removed, so the caller can update the MetadataStore (`exchange/<name>` holds
 * Exchange.toJSON(), bindings included); `restore()` rebuilds the registry from those records at boot.
 * Queue existence is the queue layer's business: bind() does not check it, and route() filters through the
 * optional `queueExists` hook (needed for the default exchange, whose routing key may name no queue).
 */
import { BrokerError } from './broker-error.js';
import { DEFAULT_EXCHANGE, Exchange, type Destination, type ExchangeDefinition, type ExchangeOptions, type ExchangeType, type FieldTable, type RouteResult, fieldValuesEqual } from './exchange.js';

/** The default tenant (AMQP vhost `/`): its names are not prefixed. */
export const DEFAULT_TENANT = '/';
/** Separates a tenant from a name in a scoped name (a NUL: AMQP names never need it). */
const TENANT_SEPARATOR = '\u0000';

/** The core name of exchange or queue `name` of `tenant` (the name itself for the default tenant, and for ''). */
export function tenantName(tenant: string, name: string): string {
  return tenant === DEFAULT_TENANT || name === '' ? name : `${tenant}${TENANT_SEPARATOR}${name}`;
}

/** The tenant and unscoped name of a core name (tenantName's inverse). */
export function splitTenantName(scoped: string): { tenant: string; name: string } {
  const i = scoped.indexOf(TENANT_SEPARATOR);
  return i < 0 ? { tenant: DEFAULT_TENANT, name: scoped } : { tenant: scoped.slice(0, i), name: scoped.slice(i + 1) };
}

/** The predeclared exchanges besides the default one. */
export const PREDECLARED_EXCHANGES: ReadonlyArray<{ name: string; type: ExchangeType }> = [
  { name: 'amq.direct', type: 'direct' },
  { name: 'amq.fanout', type: 'fanout' },
  { name: 'amq.topic', type: 'topic' },
  { name: 'amq.headers', type: 'headers' },
  { name: 'amq.match', type: 'headers' },
];

const RESERVED_PREFIX = 'amq.';

export interface ExchangeRegistryOptions {
  /** Filters routed queue names (e.g. the default exchange's); by default every name is kept. */
  queueExists?: (name: string) => boolean;
}

export interface DeclareResult {
  exchange: Exchange;
  /** False when it existed already (and was equivalent). */
  created: boolean;
}

export interface RouteOptions {
  /** Allow routing from an internal exchange (the broker itself, e.g. dead-lettering). Default false. */
  allowInternal?: boolean;
}

const NO_ROUTE_OPTIONS: RouteOptions = {};

export interface UnbindResult {
  /** False when no such binding existed (unbind is idempotent, as in RabbitMQ). */
  removed: boolean;
  /** Exchanges auto-deleted as a consequence. */
  deleted: string[];
}

export class ExchangeRegistry {
  private readonly exchanges = new Map<string, Exchange>();
  private readonly queueExists: ((name: string) => boolean) | undefined;
  /** Reused by route(): one exchange's destinations at a time. */
  private readonly step: RouteResult = { queues: new Set(), exchanges: new Set() };
  /** Reused by route(): exchanges still to visit, and the queues routed to so far (each is routed to once). */
  private readonly work: Exchange[] = [];
  private readonly added = new Set<string>();
  private readonly tenants = new Set<string>([DEFAULT_TENANT]);

  constructor(options: ExchangeRegistryOptions = {}) {
    this.queueExists = options.queueExists;
    this.exchanges.set(DEFAULT_EXCHANGE, new Exchange({ name: DEFAULT_EXCHANGE, type: 'direct', durable: true }));
    for (const { name, type } of PREDECLARED_EXCHANGES) this.exchanges.set(name, new Exchange({ name, type, durable: true }));
  }

  get(name: string): Exchange | undefined {
    return this.exchanges.get(name);
  }

  /** Adds a tenant (AMQP virtual host) and its predeclared amq.* exchanges. Idempotent. */
  addTenant(tenant: string): void {
    if (tenant === '' || tenant.includes(TENANT_SEPARATOR)) throw new BrokerError('TRIB_INVALID_NAME', `invalid tenant name ${JSON.stringify(tenant)}`);
    if (this.tenants.has(tenant)) return;
    this.tenants.add(tenant);
    for (const { name, type } of PREDECLARED_EXCHANGES) {
      const scoped = tenantName(tenant, name);
      if (!this.exchanges.has(scoped)) this.exchanges.set(scoped, new Exchange({ name: scoped, type, durable: true }));
    }
  }

  hasTenant(tenant: string): boolean {
    return this.tenants.has(tenant);
  }

  /** Every tenant, '/' first, then by name. */
  tenantNames(): string[] {
    return [...this.tenants].sort((a, b) => (a === DEFAULT_TENANT ? -1 : b === DEFAULT_TENANT ? 1 : a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Forgets a tenant (not '/') so that nothing new is opened in it. Its exchanges stay until removeTenantExchanges,
   * which the caller runs once the tenant's sessions and queues are gone. False when it did not exist.
   */
  removeTenant(tenant: string): boolean {
    if (tenant === DEFAULT_TENANT) return false;
    return this.tenants.delete(tenant);
  }

  /** Removes every exchange of `tenant` (amq.* included) and the bindings to them; returns their names. */
  removeTenantExchanges(tenant: string): string[] {
    const deleted: string[] = [];
    if (tenant === DEFAULT_TENANT) return deleted;
    for (const ex of [...this.exchanges.values()]) {
      if (this.exchanges.get(ex.name) === ex && splitTenantName(ex.name).tenant === tenant && ex.name.includes(TENANT_SEPARATOR)) this.remove(ex, deleted);
    }
    return deleted;
  }

  has(name: string): boolean {
    return this.exchanges.has(name);
  }

  /** The exchange, or TRIB_EXCHANGE_NOT_FOUND. */
  require(name: string): Exchange {
    const ex = this.exchanges.get(name);
    if (ex === undefined) throw new BrokerError('TRIB_EXCHANGE_NOT_FOUND', `no exchange '${name}'`);
    return ex;
  }

  /** Every exchange, the default and predeclared ones included. */
  [Symbol.iterator](): IterableIterator<Exchange> {
    return this.exchanges.values();
  }

  get size(): number {
    return this.exchanges.size;
  }

  /** exchange.declare (see the header for the rules). */
  declare(options: ExchangeOptions, flags: { passive?: boolean } = {}): DeclareResult {
    const name = options.name;
    if (name === DEFAULT_EXCHANGE) throw new BrokerError('TRIB_EXCHANGE_RESERVED', 'operation not permitted on the default exchange');
    const existing = this.exchanges.get(name);
    if (flags.passive === true) {
      if (existing === undefined) throw new BrokerError('TRIB_EXCHANGE_NOT_FOUND', `no exchange '${name}'`);
      return { exchange: existing, created: false };
    }
    if (existing !== undefined) {
      assertEquivalent(existing, options);
      return { exchange: existing, created: false };
    }
    if (splitTenantName(name).name.startsWith(RESERVED_PREFIX)) throw new BrokerError('TRIB_EXCHANGE_RESERVED', `exchange name '${splitTenantName(name).name}' contains reserved prefix '${RESERVED_PREFIX}*'`);
    const exchange = new Exchange(options);
    this.exchanges.set(name, exchange);
    return { exchange, created: true };
  }

  /**
   * exchange.delete. Returns the names deleted: this one (absent when it did not exist) and any auto-delete
   * exchanges that lost their last binding through it.
   */
  delete(name: string, options: { ifUnused?: boolean } = {}): string[] {
    if (name === DEFAULT_EXCHANGE || splitTenantName(name).name.startsWith(RESERVED_PREFIX)) {
      if (this.exchanges.has(name)) throw new BrokerError('TRIB_EXCHANGE_RESERVED', `deletion of system exchange '${name}' not allowed`);
    }
    const ex = this.exchanges.get(name);
    if (ex === undefined) return [];
    if (options.ifUnused === true && ex.bindingCount > 0) throw new BrokerError('TRIB_EXCHANGE_IN_USE', `exchange '${name}' in use: it has ${ex.bindingCount} binding(s)`);
    const deleted: string[] = [];
    this.remove(ex, deleted);
    return deleted;
  }

  /**
   * exchange.bind / queue.bind: binds `destination` to `source`. Returns false when the binding existed. Throws
   * TRIB_EXCHANGE_NOT_FOUND (source or destination exchange missing), TRIB_EXCHANGE_RESERVED (the default
   * exchange), TRIB_INVALID_CONFIG (bad headers arguments).
   */
  bind(source: string, destination: Destination, routingKey = '', args: FieldTable = {}): boolean {
    if (source === DEFAULT_EXCHANGE || (destination.kind === 'exchange' && destination.name === DEFAULT_EXCHANGE)) {
      throw new BrokerError('TRIB_EXCHANGE_RESERVED', 'operation not permitted on the default exchange');
    }
    const ex = this.require(source);
    if (destination.kind === 'exchange') this.require(destination.name);
    return ex.bind(destination, routingKey, args);
  }

  /** exchange.unbind / queue.unbind. Unknown bindings are not an error; an unknown source exchange is. */
  unbind(source: string, destination: Destination, routingKey = '', args: FieldTable = {}): UnbindResult {
    if (source === DEFAULT_EXCHANGE || (destination.kind === 'exchange' && destination.name === DEFAULT_EXCHANGE)) {
      throw new BrokerError('TRIB_EXCHANGE_RESERVED', 'operation not permitted on the default exchange');
    }
    const ex = this.require(source);
    const removed = ex.unbind(destination, routingKey, args);
    const deleted: string[] = [];
    if (removed) this.autoDelete(ex, deleted);
    return { removed, deleted };
  }

  /** A queue was deleted: removes every binding to it. Returns the exchanges auto-deleted as a consequence. */
  removeQueue(name: string): string[] {
    return this.removeBindingsTo({ kind: 'queue', name });
  }

  /** The exchanges (names) with a binding to `destination`. */
  sourcesOf(destination: Destination): string[] {
    const out: string[] = [];
    for (const ex of this.exchanges.values()) if (ex.isBoundTo(destination)) out.push(ex.name);
    return out;
  }

  /**
   * The queues a message published to `exchange` with this routing key and headers goes to. Empty when it is
   * unroutable (basic.publish mandatory -> basic.return 312 NO_ROUTE). Throws TRIB_EXCHANGE_NOT_FOUND (404) and,
   * unless allowInternal, TRIB_EXCHANGE_INTERNAL (403) for an internal exchange.
   */
  route(exchange: string, routingKey: string, headers?: FieldTable, options: RouteOptions = NO_ROUTE_OPTIONS): Set<string> {
    return new Set(this.routeInto([], exchange, routingKey, headers, options));
  }

  /**
   * route() appending the queue names to `out` (a caller's array, reused per publish: a publish then allocates no
   * Set, iterator or array), each once, in route()'s order; returns `out`. Throws as route() does.
   */
  routeInto(out: string[], exchange: string, routingKey: string, headers?: FieldTable, options: RouteOptions = NO_ROUTE_OPTIONS): string[] {
    const first = this.require(exchange);
    if (first.internal && options.allowInternal !== true) {
      throw new BrokerError('TRIB_EXCHANGE_INTERNAL', `cannot publish to internal exchange '${exchange}'`);
    }
    if (first.isDefault) {
      // The default exchange routes to the queue its key names; it has no bindings, arguments or alternate.
      if (this.queueExists === undefined || this.queueExists(routingKey)) out.push(routingKey);
      return out;
    }
    // The work list and the sets are fields, empty between calls (routing runs to completion, and nothing it
    // calls routes again); they are emptied first too, in case a route threw half-way.
    const work = this.work;
    const added = this.added;
    work.length = 0;
    added.clear();
    work.push(first);
    let seen: Set<string> | null = null;
    const step = this.step;
    while (work.length > 0) {
      const ex = work.pop()!;
      step.queues.clear();
      step.exchanges.clear();
      ex.route(routingKey, headers, step);
      if (step.queues.size === 0 && step.exchanges.size === 0) {
        const ae = ex.alternateExchange;
        if (ae !== undefined) step.exchanges.add(ae);
      }
      for (const q of step.queues) {
        if (added.has(q) || (this.queueExists !== undefined && !this.queueExists(q))) continue;
        added.add(q);
        out.push(q);
      }
      if (step.exchanges.size === 0) continue;
      seen ??= new Set([first.name]);
      for (const name of step.exchanges) {
        if (seen.has(name)) continue;
        seen.add(name);
        const next = this.exchanges.get(name);
        if (next !== undefined) work.push(next);
      }
    }
    added.clear();
    return out;
  }

  /** Exchange.toJSON() of every exchange but the default one (it has no state); filter by durable as needed. */
  definitions(): ExchangeDefinition[] {
    const out: ExchangeDefinition[] = [];
    for (const ex of this.exchanges.values()) if (!ex.isDefault) out.push(ex.toJSON());
    return out;
  }

  /**
   * Loads definitions (MetadataStore records at boot): each replaces the exchange of its name, the predeclared
   * ones included (their bindings are state too). Exchange destinations are not checked here, since records come
   * in any order; route() skips ones that do not exist.
   */
  restore(definitions: Iterable<ExchangeDefinition>): void {
    for (const def of definitions) {
      if (def.name === DEFAULT_EXCHANGE) continue;
      this.exchanges.set(def.name, Exchange.fromJSON(def));
    }
  }

  private removeBindingsTo(destination: Destination): string[] {
    const deleted: string[] = [];
    for (const ex of [...this.exchanges.values()]) {
      if (ex.isDefault || !this.exchanges.has(ex.name)) continue;
      if (ex.unbindDestination(destination) > 0) this.autoDelete(ex, deleted);
    }
    return deleted;
  }

  private autoDelete(ex: Exchange, deleted: string[]): void {
    if (ex.autoDelete && ex.bindingCount === 0 && this.exchanges.get(ex.name) === ex) this.remove(ex, deleted);
  }

  private remove(ex: Exchange, deleted: string[]): void {
    this.exchanges.delete(ex.name);
    deleted.push(ex.name);
    deleted.push(...this.removeBindingsTo({ kind: 'exchange', name: ex.name }));
  }
}

function show(v: unknown): string {
  if (v === undefined || v === null) return 'none';
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  return String(v);
}

/** RabbitMQ's assert_equivalence: type, durable, auto_delete, internal and the alternate-exchange argument. */
function assertEquivalent(existing: Exchange, requested: ExchangeOptions): void {
  const fail = (arg: string, received: unknown, current: unknown): never => {
    throw new BrokerError(
      'TRIB_EXCHANGE_EXISTS',
      `inequivalent arg '${arg}' for exchange '${existing.name}': received '${show(received)}' but current is '${show(current)}'`,
    );
  };
  if (requested.type !== existing.type) fail('type', requested.type, existing.type);
  if ((requested.durable === true) !== existing.durable) fail('durable', requested.durable === true, existing.durable);
  if ((requested.autoDelete === true) !== existing.autoDelete) fail('auto_delete', requested.autoDelete === true, existing.autoDelete);
  if ((requested.internal === true) !== existing.internal) fail('internal', requested.internal === true, existing.internal);
  const want = requested.arguments?.['alternate-exchange'];
  const have = existing.arguments['alternate-exchange'];
  if (!fieldValuesEqual(want ?? null, have ?? null)) fail('alternate-exchange', want, have);
}
