/**
 * VhostPermissions: RabbitMQ's per-virtual-host permissions. A user holds three regular expressions per vhost —
 * configure, write, read — matched (unanchored, as RabbitMQ's re:run) against the name of the exchange or queue
 * an operation touches; the empty string matches nothing. Which operation needs which permission is the
 * caller's business (RabbitMQ's access-control table; the AMQP channel follows it); this store only answers.
 *
 * Enforcement: while no entry exists at all, nothing is checked (a fresh broker behaves as it did before
 * permissions existed, whoever logs in). Once one exists, an authenticated user needs an entry on a vhost to
 * open it and a matching regex for each operation. Unauthenticated principals (an HTTP API with `--http-auth
 * off`, anonymous NATS/MQTT) are left to the ACLs: permissions are about users.
 *
 * A user's entries are removed when the user is deleted (the store follows 'user' deletions).
 *
 * Persistence: MetadataStore kind 'permission', name = JSON `[user, vhost]`, value = VhostPermission. The
 * in-memory index follows the store's 'change' events, so a permission set by any component (or replayed at
 * boot) takes effect at once. A check is two Map lookups and one regex test (no allocation): it runs per publish.
 */
import { BrokerError } from '../broker-error.js';
import type { MetadataStore } from '../metadata.js';
import type { Principal } from '../principal.js';

export type PermissionKind = 'configure' | 'write' | 'read';
export const PERMISSION_KINDS: readonly PermissionKind[] = ['configure', 'write', 'read'];

/** One user's permissions on one vhost (what is persisted and listed). */
export interface VhostPermission {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

declare module '../metadata.js' {
  interface MetadataKinds {
    permission: VhostPermission;
  }
}

/** RabbitMQ names the default exchange `amq.default` in permission checks. */
const DEFAULT_EXCHANGE_PERMISSION_NAME = 'amq.default';

interface Compiled {
  entry: VhostPermission;
  regex: { [K in PermissionKind]: RegExp | null };
}

/** The metadata name of a user's entry on a vhost (JSON: neither part can make it ambiguous). */
export function permissionId(user: string, vhost: string): string {
  return JSON.stringify([user, vhost]);
}

/** A regex as RabbitMQ stores it: '' matches nothing; anything else must compile (TRIB_INVALID_CONFIG names it). */
function compile(kind: PermissionKind, source: unknown): RegExp | null {
  if (typeof source !== 'string') throw new BrokerError('TRIB_INVALID_CONFIG', `permission ${kind} must be a string (a regular expression)`);
  if (source === '') return null;
  try {
    return new RegExp(source, 'u');
  } catch (err) {
    throw new BrokerError('TRIB_INVALID_CONFIG', `permission ${kind} '${source}' is not a valid regular expression: ${(err as Error).message}`);
  }
}

export class VhostPermissions {
  private readonly byId = new Map<string, Compiled>();
  /** The same entries by user, then vhost: a check (per publish) looks up without building an id. */
  private readonly byUser = new Map<string, Map<string, Compiled>>();
  private readonly onChange = (kind: string, name: string, value: unknown): void => {
    // A deleted user's permissions go with it (RabbitMQ), so a new user of that name starts with none.
    if (kind === 'user' && value === null) void this.clearAll({ user: name }).catch(() => undefined);
    if (kind !== 'permission') return;
    this.index(name, value === null ? undefined : (value as VhostPermission));
  };

  constructor(private readonly metadata: MetadataStore) {
    for (const { name, value } of metadata.list('permission')) this.index(name, value);
    metadata.on('change', this.onChange);
  }

  private index(id: string, entry: VhostPermission | undefined): void {
    const old = this.byId.get(id);
    if (old !== undefined) {
      this.byId.delete(id);
      const vhosts = this.byUser.get(old.entry.user);
      vhosts?.delete(old.entry.vhost);
      if (vhosts?.size === 0) this.byUser.delete(old.entry.user);
    }
    if (entry === undefined) return;
    try {
      const compiled: Compiled = { entry, regex: { configure: compile('configure', entry.configure), write: compile('write', entry.write), read: compile('read', entry.read) } };
      this.byId.set(id, compiled);
      let vhosts = this.byUser.get(entry.user);
      if (vhosts === undefined) this.byUser.set(entry.user, (vhosts = new Map()));
      vhosts.set(entry.vhost, compiled);
    } catch {
      // A record this runtime cannot compile grants nothing (fail closed), rather than stopping the boot.
    }
  }

  /** True once any permission entry exists (permissions are enforced). */
  get enabled(): boolean {
    return this.byId.size > 0;
  }

  get(user: string, vhost: string): VhostPermission | undefined {
    const c = this.byId.get(permissionId(user, vhost));
    return c === undefined ? undefined : { ...c.entry };
  }

  /** Entries, optionally of one vhost or one user, ordered by vhost then user. */
  list(filter: { vhost?: string; user?: string } = {}): VhostPermission[] {
    const out: VhostPermission[] = [];
    for (const { entry } of this.byId.values()) {
      if ((filter.vhost === undefined || entry.vhost === filter.vhost) && (filter.user === undefined || entry.user === filter.user)) out.push({ ...entry });
    }
    return out.sort((a, b) => (a.vhost !== b.vhost ? (a.vhost < b.vhost ? -1 : 1) : a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  }

  /** Sets (replaces) a user's permissions on a vhost; validates the regexes first. Resolves once persisted. */
  async set(entry: VhostPermission): Promise<void> {
    for (const kind of PERMISSION_KINDS) compile(kind, entry[kind]);
    const value: VhostPermission = { user: entry.user, vhost: entry.vhost, configure: entry.configure, write: entry.write, read: entry.read };
    await this.metadata.put('permission', permissionId(entry.user, entry.vhost), value);
  }

  /** Clears a user's permissions on a vhost; false when there were none. */
  async clear(user: string, vhost: string): Promise<boolean> {
    const id = permissionId(user, vhost);
    if (!this.byId.has(id) && this.metadata.get('permission', id) === undefined) return false;
    await this.metadata.delete('permission', id);
    return true;
  }

  /** Removes every entry of a vhost (the vhost was deleted) or of a user; returns how many. */
  async clearAll(filter: { vhost?: string; user?: string }): Promise<number> {
    const gone = this.list(filter);
    for (const e of gone) await this.metadata.delete('permission', permissionId(e.user, e.vhost));
    return gone.length;
  }

  /** Whether permissions apply to this principal at all (see the header). */
  private applies(principal: Principal): boolean {
    return this.byId.size > 0 && principal.authenticated;
  }

  /** May the principal open `vhost`? (RabbitMQ: any entry on it, even with three empty regexes.) */
  mayAccess(principal: Principal, vhost: string): boolean {
    return !this.applies(principal) || this.byUser.get(principal.name)?.has(vhost) === true;
  }

  /**
   * connection.open's check: throws TRIB_UNAUTHORIZED "access to vhost 'v' refused for user 'u'" (RabbitMQ's
   * words; AMQP answers 530 NOT_ALLOWED with them).
   */
  checkAccess(principal: Principal, vhost: string): void {
    if (!this.mayAccess(principal, vhost)) {
      throw new BrokerError('TRIB_UNAUTHORIZED', `access to vhost '${vhost}' refused for user '${principal.name}'`);
    }
  }

  /** May the principal use `kind` permission on exchange or queue `name` (unscoped) of `vhost`? */
  allows(principal: Principal, vhost: string, kind: PermissionKind, resourceType: 'exchange' | 'queue', name: string): boolean {
    if (!this.applies(principal)) return true;
    const regex = this.byUser.get(principal.name)?.get(vhost)?.regex[kind] ?? null;
    if (regex === null) return false;
    return regex.test(resourceType === 'exchange' && name === '' ? DEFAULT_EXCHANGE_PERMISSION_NAME : name);
  }

  /** allows() or TRIB_UNAUTHORIZED in RabbitMQ's words ("write access to exchange 'x' in vhost '/' refused for user 'u'"). */
  check(principal: Principal, vhost: string, kind: PermissionKind, resourceType: 'exchange' | 'queue', name: string): void {
    if (!this.allows(principal, vhost, kind, resourceType, name)) {
      const shown = resourceType === 'exchange' && name === '' ? DEFAULT_EXCHANGE_PERMISSION_NAME : name;
      throw new BrokerError('TRIB_UNAUTHORIZED', `${kind} access to ${resourceType} '${shown}' in vhost '${vhost}' refused for user '${principal.name}'`);
    }
  }

  /** Stops following the MetadataStore. */
  close(): void {
    this.metadata.off('change', this.onChange);
  }
}
