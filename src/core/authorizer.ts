/**
 * Authorizer: may this principal perform this action on this resource? Every core operation asks (protocol
 * sessions may cache an answer per connection and resource, and must drop the cache on the 'change' event).
 *
 * Rules, in order:
 * 1. No ACL entry configured at all: everything is allowed (a fresh broker works out of the box).
 * 2. Super users (option) are allowed everything.
 * 3. Otherwise the matching entries decide: an entry matches when its principal is the principal's name or
 *    '*', its host is the peer address or '*', its resource type is the resource's, its pattern matches the
 *    name (literal: equal, or the literal '*' for every name; prefix: the name starts with it), and its
 *    action is the action, or '*', or — for 'describe' only — any action that implies describe (Kafka: read,
 *    write, delete and alter imply describe; here also consume, publish, subscribe). A matching deny
 *    wins over any allow; no matching allow means denied.
 *
 * Persistence: entries are MetadataStore records of kind 'acl', named by `aclId(entry)` (every field, so
 * adding the same entry twice is one entry). The in-memory index follows the store's 'change' events, so
 * entries written by another component (or replayed at boot) take effect at once.
 *
 * Virtual-host permissions (RabbitMQ's configure/write/read regexes per user and vhost) are the other half of
 * the same decision: `permissions` (users/vhost-permissions.ts) holds them, and checkVhostAccess /
 * checkPermission apply them with the same super-user rule. A protocol asks both: an operation must pass the
 * ACLs and the user's permissions on its vhost.
 */
import { EventEmitter } from 'node:events';
import { BrokerError } from './broker-error.js';
import type { MetadataStore } from './metadata.js';
import type { Principal } from './principal.js';
import { VhostPermissions, type PermissionKind } from './users/vhost-permissions.js';

export type Action = 'read' | 'write' | 'create' | 'delete' | 'alter' | 'describe' | 'consume' | 'publish' | 'subscribe' | 'admin';
export type ResourceType = 'stream' | 'exchange' | 'queue' | 'subject' | 'group' | 'cluster' | 'user';

export const ACTIONS: readonly Action[] = ['read', 'write', 'create', 'delete', 'alter', 'describe', 'consume', 'publish', 'subscribe', 'admin'];
export const RESOURCE_TYPES: readonly ResourceType[] = ['stream', 'exchange', 'queue', 'subject', 'group', 'cluster', 'user'];

export interface Resource {
  type: ResourceType;
  name: string;
}

export interface AclEntry {
  /** User name, or '*' for every principal (anonymous included). */
  principal: string;
  /** Peer address the entry applies to, or '*' (default). */
  host?: string;
  resourceType: ResourceType;
  /** Resource name, the name prefix (patternType 'prefix'), or '*' (literal) for every name. */
  pattern: string;
  /** Default 'literal'. */
  patternType?: 'literal' | 'prefix';
  /** An action, or '*' for all. */
  action: Action | '*';
  permission: 'allow' | 'deny';
}

/** Filter for list/remove: unset fields match anything. */
export type AclFilter = Partial<AclEntry>;

export interface AuthorizerOptions {
  /** Names allowed everything regardless of ACLs (Kafka super.users). */
  superUsers?: string[];
}

const IMPLIES_DESCRIBE: ReadonlySet<string> = new Set(['read', 'write', 'delete', 'alter', 'consume', 'publish', 'subscribe']);

/** Fills defaults and checks every field; throws TRIB_INVALID_CONFIG naming the field. */
export function normalizeAcl(entry: AclEntry): Required<AclEntry> {
  const bad = (field: string, value: unknown): BrokerError => new BrokerError('TRIB_INVALID_CONFIG', `ACL ${field} '${String(value)}' is invalid`);
  if (typeof entry.principal !== 'string' || entry.principal === '') throw bad('principal', entry.principal);
  const host = entry.host ?? '*';
  if (typeof host !== 'string' || host === '') throw bad('host', host);
  if (!RESOURCE_TYPES.includes(entry.resourceType)) throw bad('resourceType', entry.resourceType);
  if (typeof entry.pattern !== 'string' || entry.pattern === '') throw bad('pattern', entry.pattern);
  const patternType = entry.patternType ?? 'literal';
  if (patternType !== 'literal' && patternType !== 'prefix') throw bad('patternType', patternType);
  if (entry.action !== '*' && !ACTIONS.includes(entry.action)) throw bad('action', entry.action);
  if (entry.permission !== 'allow' && entry.permission !== 'deny') throw bad('permission', entry.permission);
  return { principal: entry.principal, host, resourceType: entry.resourceType, pattern: entry.pattern, patternType, action: entry.action, permission: entry.permission };
}

/** The metadata name of an entry: every field, pattern last (it may contain ':'). */
export function aclId(entry: AclEntry): string {
  const e = normalizeAcl(entry);
  return `${e.permission}:${e.principal}:${e.host}:${e.action}:${e.resourceType}:${e.patternType}:${e.pattern}`;
}

function matchesFilter(e: Required<AclEntry>, f: AclFilter): boolean {
  return (
    (f.principal === undefined || f.principal === e.principal) &&
    (f.host === undefined || f.host === e.host) &&
    (f.resourceType === undefined || f.resourceType === e.resourceType) &&
    (f.pattern === undefined || f.pattern === e.pattern) &&
    (f.patternType === undefined || f.patternType === e.patternType) &&
    (f.action === undefined || f.action === e.action) &&
    (f.permission === undefined || f.permission === e.permission)
  );
}

export class Authorizer extends EventEmitter {
  /** Entries by resource type: a check scans only its type's list. */
  private readonly byType = new Map<ResourceType, Map<string, Required<AclEntry>>>();
  private count = 0;
  private readonly superUsers: ReadonlySet<string>;
  /** Per-vhost configure/write/read permissions of users (persisted; see the header). */
  readonly permissions: VhostPermissions;
  private readonly onChange = (kind: string, name: string, value: unknown): void => {
    if (kind !== 'acl') return;
    this.index(name, value === null ? undefined : (value as AclEntry));
    this.emit('change');
  };

  constructor(
    private readonly metadata: MetadataStore,
    options: AuthorizerOptions = {},
  ) {
    super();
    this.superUsers = new Set(options.superUsers ?? []);
    this.permissions = new VhostPermissions(metadata);
    for (const { name, value } of metadata.list('acl')) this.index(name, value);
    metadata.on('change', this.onChange);
  }

  private index(id: string, entry: AclEntry | undefined): void {
    for (const map of this.byType.values()) if (map.delete(id)) this.count--;
    if (entry === undefined) return;
    let normalized: Required<AclEntry>;
    try {
      normalized = normalizeAcl(entry);
    } catch {
      // An entry a newer version understands (new resource type or action) cannot match anything here.
      return;
    }
    let map = this.byType.get(normalized.resourceType);
    if (map === undefined) {
      map = new Map();
      this.byType.set(normalized.resourceType, map);
    }
    map.set(id, normalized);
    this.count++;
  }

  /** True once any ACL entry exists (authorization is enforced). */
  get enabled(): boolean {
    return this.count > 0;
  }

  authorize(principal: Principal, action: Action, resource: Resource): boolean {
    if (this.count === 0) return true;
    if (principal.authenticated && this.superUsers.has(principal.name)) return true;
    const entries = this.byType.get(resource.type);
    if (entries === undefined) return false;
    let allowed = false;
    for (const e of entries.values()) {
      if (e.principal !== '*' && e.principal !== principal.name) continue;
      if (e.host !== '*' && e.host !== principal.peerAddress) continue;
      if (e.action !== '*' && e.action !== action && !(action === 'describe' && IMPLIES_DESCRIBE.has(e.action))) continue;
      const nameMatches = e.patternType === 'prefix' ? resource.name.startsWith(e.pattern) : e.pattern === '*' || e.pattern === resource.name;
      if (!nameMatches) continue;
      if (e.permission === 'deny') return false;
      allowed = true;
    }
    return allowed;
  }

  /** authorize() or throw TRIB_UNAUTHORIZED naming the principal, action and resource. */
  check(principal: Principal, action: Action, resource: Resource): void {
    if (!this.authorize(principal, action, resource)) {
      throw new BrokerError('TRIB_UNAUTHORIZED', `principal '${principal.name}' is not allowed to ${action} ${resource.type} '${resource.name}'`);
    }
  }

  /** connection.open of `vhost`: TRIB_UNAUTHORIZED unless the user has permissions there (or none are set). */
  checkVhostAccess(principal: Principal, vhost: string): void {
    if (principal.authenticated && this.superUsers.has(principal.name)) return;
    this.permissions.checkAccess(principal, vhost);
  }

  /** True when permissions are set at all: a session may skip per-operation checks while false. */
  get permissionsEnabled(): boolean {
    return this.permissions.enabled;
  }

  /** TRIB_UNAUTHORIZED unless the user's `kind` regex on `vhost` matches the exchange or queue (unscoped name). */
  checkPermission(principal: Principal, vhost: string, kind: PermissionKind, resourceType: 'exchange' | 'queue', name: string): void {
    if (principal.authenticated && this.superUsers.has(principal.name)) return;
    this.permissions.check(principal, vhost, kind, resourceType, name);
  }

  /** Adds an entry (idempotent); resolves once persisted. */
  async add(entry: AclEntry): Promise<void> {
    const normalized = normalizeAcl(entry);
    await this.metadata.put('acl', aclId(normalized), normalized);
  }

  /** Removes every entry matching the filter; returns the removed entries. */
  async remove(filter: AclFilter): Promise<AclEntry[]> {
    const removed = this.list(filter);
    for (const e of removed) await this.metadata.delete('acl', aclId(e));
    return removed;
  }

  /** Entries matching the filter (all when omitted), in id order. */
  list(filter: AclFilter = {}): AclEntry[] {
    const out: Array<[string, Required<AclEntry>]> = [];
    for (const map of this.byType.values()) for (const [id, e] of map) if (matchesFilter(e, filter)) out.push([id, e]);
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => ({ ...e }));
  }

  /** Stops following the MetadataStore. */
  close(): void {
    this.metadata.off('change', this.onChange);
    this.permissions.close();
  }
}
