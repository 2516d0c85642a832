/**
 * UserStore: broker users, persisted in the MetadataStore as kind 'user' (UserRecord JSON). A user holds
 * SCRAM-SHA-256 and SCRAM-SHA-512 credentials (scram.ts) — never the password — so Kafka SCRAM logins and
 * every password login (AMQP PLAIN/AMQPLAIN, NATS, MQTT, HTTP Basic) check against the same record.
 *
 * Boot seeding (UserStore.open):
 * - the default user (guest/guest unless configured otherwise, or none with `defaultUser: null`) is created
 *   only when the store holds no user at all — a fresh broker, as RabbitMQ does — so deleting it sticks;
 * - each user listed in the config is created if missing, and its password (and tags) reset to the
 *   configured ones if they differ: the config file is the source of truth for the users it names.
 *
 * Loopback users (RabbitMQ's loopback_users, default ['guest']): these may log in only from 127.0.0.0/8,
 * ::1 or their IPv4-mapped forms; `loopbackUsers: []` allows them from anywhere. The check comes before the
 * password, so a remote guess at guest's password costs the broker no PBKDF2.
 *
 * Failures all throw TRIB_AUTHENTICATION_FAILED with a message that does not say whether the user exists;
 * an unknown user costs the same PBKDF2 as a known one, so timing does not tell either.
 */
import { BrokerError } from '../broker-error.js';
import type { MetadataStore } from '../metadata.js';
import { DEFAULT_TENANT, authenticatedPrincipal, isLoopbackAddress, type AuthMechanism, type Principal } from '../principal.js';
import {
  DEFAULT_SCRAM_ITERATIONS,
  SCRAM_MECHANISMS,
  createScramCredential,
  verifyScramPassword,
  type ScramCredential,
  type ScramMechanism,
} from './scram.js';

/** What is persisted per user (metadata kind 'user', name = user name). */
export interface UserRecord {
  name: string;
  credentials: { [M in ScramMechanism]?: ScramCredential };
  /** Free-form roles (RabbitMQ management tags: administrator, monitoring, ...). */
  tags: string[];
  /** ms since the epoch. */
  createdAt: number;
}

/** A user as listed: no credentials. */
export interface UserInfo {
  name: string;
  tags: string[];
  mechanisms: ScramMechanism[];
  createdAt: number;
}

export interface SeedUser {
  name: string;
  password: string;
  tags?: string[];
}

export interface UserStoreOptions {
  /** Users from the config file, created or reset at boot. */
  users?: SeedUser[];
  /** Created on a fresh store; default guest/guest; null for none. */
  defaultUser?: SeedUser | null;
  /** Users allowed to log in from loopback addresses only; default ['guest']; [] allows them anywhere. */
  loopbackUsers?: string[];
  /** PBKDF2 iterations for new credentials (>= 4096). */
  iterations?: number;
  /** Injected clock (ms). */
  now?: () => number;
}

export const DEFAULT_USER: SeedUser = { name: 'guest', password: 'guest', tags: ['administrator'] };
export const MAX_USER_NAME_LENGTH = 255;

function validateUserName(name: string): void {
  // Control characters would corrupt logs and SASL framing; ',' and '=' are fine (SCRAM escapes them).
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_USER_NAME_LENGTH || /[\x00-\x1f\x7f]/.test(name)) {
    throw new BrokerError('TRIB_INVALID_NAME', `user name must be 1..${MAX_USER_NAME_LENGTH} printable characters`);
  }
}

function validatePassword(password: string): void {
  if (typeof password !== 'string' || password.length === 0) throw new BrokerError('TRIB_INVALID_CONFIG', 'password must be a non-empty string');
}

/** Verified against when the user does not exist, so the failure takes as long as a wrong password. */
let dummyCredential: Promise<ScramCredential> | undefined;

export class UserStore {
  private readonly loopbackUsers: ReadonlySet<string>;
  private readonly iterations: number;
  private readonly now: () => number;

  private constructor(
    private readonly metadata: MetadataStore,
    options: UserStoreOptions,
  ) {
    this.loopbackUsers = new Set(options.loopbackUsers ?? [DEFAULT_USER.name]);
    this.iterations = options.iterations ?? DEFAULT_SCRAM_ITERATIONS;
    this.now = options.now ?? Date.now;
  }

  /** Creates the store over `metadata` and applies the boot seeding rules (see header). */
  static async open(metadata: MetadataStore, options: UserStoreOptions = {}): Promise<UserStore> {
    const store = new UserStore(metadata, options);
    const defaultUser = options.defaultUser === undefined ? DEFAULT_USER : options.defaultUser;
    if (defaultUser !== null && metadata.list('user').length === 0 && !(options.users ?? []).some((u) => u.name === defaultUser.name)) {
      await store.create(defaultUser.name, defaultUser.password, { tags: defaultUser.tags });
    }
    for (const u of options.users ?? []) {
      const existing = store.record(u.name);
      if (existing === undefined) {
        await store.create(u.name, u.password, { tags: u.tags });
        continue;
      }
      if (!(await store.verify(existing, u.password))) await store.setPassword(u.name, u.password);
      if (u.tags !== undefined && JSON.stringify(u.tags) !== JSON.stringify(existing.tags)) await store.setTags(u.name, u.tags);
    }
    return store;
  }

  private record(name: string): UserRecord | undefined {
    return this.metadata.get('user', name);
  }

  private async credentials(password: string): Promise<UserRecord['credentials']> {
    const out: UserRecord['credentials'] = {};
    for (const m of SCRAM_MECHANISMS) out[m] = await createScramCredential(m, password, { iterations: this.iterations });
    return out;
  }

  /** Throws TRIB_USER_EXISTS, TRIB_INVALID_NAME, TRIB_INVALID_CONFIG (empty password). */
  async create(name: string, password: string, options: { tags?: string[] } = {}): Promise<void> {
    validateUserName(name);
    validatePassword(password);
    if (this.record(name) !== undefined) throw new BrokerError('TRIB_USER_EXISTS', `user '${name}' already exists`);
    const record: UserRecord = { name, credentials: await this.credentials(password), tags: [...(options.tags ?? [])], createdAt: this.now() };
    // Re-check after the PBKDF2 awaits: a concurrent create of the same name must not be overwritten.
    if (this.record(name) !== undefined) throw new BrokerError('TRIB_USER_EXISTS', `user '${name}' already exists`);
    await this.metadata.put('user', name, record);
  }

  /** Throws TRIB_USER_NOT_FOUND. */
  async delete(name: string): Promise<void> {
    if (this.record(name) === undefined) throw new BrokerError('TRIB_USER_NOT_FOUND', `user '${name}' does not exist`);
    await this.metadata.delete('user', name);
  }

  /** Replaces every credential of the user. Throws TRIB_USER_NOT_FOUND. */
  async setPassword(name: string, password: string): Promise<void> {
    validatePassword(password);
    const existing = this.record(name);
    if (existing === undefined) throw new BrokerError('TRIB_USER_NOT_FOUND', `user '${name}' does not exist`);
    const credentials = await this.credentials(password);
    const current = this.record(name);
    if (current === undefined) throw new BrokerError('TRIB_USER_NOT_FOUND', `user '${name}' does not exist`);
    await this.metadata.put('user', name, { ...current, credentials });
  }

  /** Throws TRIB_USER_NOT_FOUND. */
  async setTags(name: string, tags: string[]): Promise<void> {
    const existing = this.record(name);
    if (existing === undefined) throw new BrokerError('TRIB_USER_NOT_FOUND', `user '${name}' does not exist`);
    await this.metadata.put('user', name, { ...existing, tags: [...tags] });
  }

  get(name: string): UserInfo | undefined {
    const r = this.record(name);
    return r === undefined ? undefined : toInfo(r);
  }

  list(): UserInfo[] {
    return this.metadata.list('user').map(({ value }) => toInfo(value));
  }

  /** For ScramServerSession's lookup (Kafka SASL/SCRAM). */
  scramCredential(name: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.record(name)?.credentials[mechanism];
  }

  /** True when `name` may log in only from loopback addresses. */
  isLoopbackOnly(name: string): boolean {
    return this.loopbackUsers.has(name);
  }

  /**
   * Enforces the loopback rule for a login that proved the user some other way (SCRAM). Throws
   * TRIB_AUTHENTICATION_FAILED.
   */
  checkPeer(name: string, peerAddress: string | undefined): void {
    if (this.loopbackUsers.has(name) && !isLoopbackAddress(peerAddress)) {
      throw new BrokerError('TRIB_AUTHENTICATION_FAILED', `user '${name}' may only log in from a loopback address (connected from ${peerAddress ?? 'unknown'})`);
    }
  }

  /**
   * Password login from any protocol. Resolves with an authenticated Principal; throws
   * TRIB_AUTHENTICATION_FAILED for an unknown user, a wrong password, or a loopback user from elsewhere.
   */
  async authenticate(
    username: string,
    password: string,
    peerAddress: string | undefined,
    options: { mechanism?: AuthMechanism; tenant?: string } = {},
  ): Promise<Principal> {
    this.checkPeer(username, peerAddress);
    const record = typeof username === 'string' ? this.record(username) : undefined;
    const ok = typeof password === 'string' && (record !== undefined ? await this.verify(record, password) : await this.verifyDummy(password));
    if (!ok || record === undefined) {
      throw new BrokerError('TRIB_AUTHENTICATION_FAILED', `authentication failed for user '${String(username)}'`);
    }
    return authenticatedPrincipal(record.name, options.mechanism ?? 'password', peerAddress, options.tenant ?? DEFAULT_TENANT);
  }

  private async verify(record: UserRecord, password: string): Promise<boolean> {
    // SHA-256 first: cheaper, and every user created here has it.
    for (const m of SCRAM_MECHANISMS) {
      const cred = record.credentials[m];
      if (cred !== undefined) return verifyScramPassword(m, cred, password);
    }
    return false;
  }

  private async verifyDummy(password: string): Promise<boolean> {
    dummyCredential ??= createScramCredential('SCRAM-SHA-256', 'dummy', { iterations: this.iterations });
    await verifyScramPassword('SCRAM-SHA-256', await dummyCredential, password);
    return false;
  }
}

function toInfo(r: UserRecord): UserInfo {
  return { name: r.name, tags: [...r.tags], mechanisms: SCRAM_MECHANISMS.filter((m) => r.credentials[m] !== undefined), createdAt: r.createdAt };
}
