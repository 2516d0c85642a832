/**
 * SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677): stored credentials and the server side of the exchange.
 *
 * Credential (what is stored; never the password):
 *   SaltedPassword = PBKDF2-HMAC-H(password, salt, iterations, len(H))
 *   ClientKey = HMAC(SaltedPassword, "Client Key")   StoredKey = H(ClientKey)
 *   ServerKey = HMAC(SaltedPassword, "Server Key")
 * Passwords are taken as UTF-8 without SASLprep, as Kafka's broker and Java client do (identical for ASCII).
 * Iterations are at least 4096 (RFC 7677 §4 and Kafka's minimum).
 *
 * Exchange (RFC 5802 §3, §7):
 *   C: n,[a=authzid],n=user,r=cnonce                       client-first  (gs2 header + client-first-bare)
 *   S: r=cnonce+snonce,s=salt,i=iterations                  server-first
 *   C: c=base64(gs2 header),r=cnonce+snonce,p=proof         client-final
 *   S: v=base64(ServerSignature)  |  e=<server-error>       server-final
 *   AuthMessage = client-first-bare "," server-first "," client-final-without-proof
 *   ClientKey = proof XOR HMAC(StoredKey, AuthMessage); accept iff H(ClientKey) == StoredKey (constant time).
 * Channel binding is not supported ('p=' is refused; 'y' and 'n' accepted). Mandatory extensions ('m=') are
 * refused; other extensions are ignored (Kafka's client may send `tokenauth=...`).
 *
 * An unknown user gets a plausible server-first (a per-process deterministic fake salt) and fails only at
 * client-final with `e=invalid-proof`, so the exchange does not reveal which user names exist.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { BrokerError } from '../broker-error.js';

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];
export const MIN_SCRAM_ITERATIONS = 4096;
export const DEFAULT_SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

/** A stored SCRAM credential; binary fields are base64 so it is JSON as is. */
export interface ScramCredential {
  salt: string;
  iterations: number;
  storedKey: string;
  serverKey: string;
}

interface HashInfo {
  name: 'sha256' | 'sha512';
  bytes: number;
}

function hashOf(mechanism: ScramMechanism): HashInfo {
  if (mechanism === 'SCRAM-SHA-256') return { name: 'sha256', bytes: 32 };
  if (mechanism === 'SCRAM-SHA-512') return { name: 'sha512', bytes: 64 };
  throw new BrokerError('TRIB_INVALID_CONFIG', `unsupported SCRAM mechanism '${String(mechanism)}'`);
}

function hmac(hash: HashInfo, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(hash.name, key).update(data).digest();
}

function saltedPassword(hash: HashInfo, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Asynchronous: 4096 rounds take milliseconds, and logins must not stall the event loop.
    pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, hash.bytes, hash.name, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * Derives the credential for `password`. `salt` (base64) and `iterations` are for tests and imports;
 * by default a random 16-byte salt and DEFAULT_SCRAM_ITERATIONS.
 */
export async function createScramCredential(
  mechanism: ScramMechanism,
  password: string,
  options: { salt?: string; iterations?: number } = {},
): Promise<ScramCredential> {
  const hash = hashOf(mechanism);
  const iterations = options.iterations ?? DEFAULT_SCRAM_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < MIN_SCRAM_ITERATIONS) {
    throw new BrokerError('TRIB_INVALID_CONFIG', `SCRAM iterations must be an integer >= ${MIN_SCRAM_ITERATIONS}, got ${iterations}`);
  }
  const salt = options.salt !== undefined ? Buffer.from(options.salt, 'base64') : randomBytes(SALT_BYTES);
  const salted = await saltedPassword(hash, password, salt, iterations);
  const clientKey = hmac(hash, salted, 'Client Key');
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: createHash(hash.name).update(clientKey).digest('base64'),
    serverKey: hmac(hash, salted, 'Server Key').toString('base64'),
  };
}

/**
 * PLAIN-style check (AMQP PLAIN/AMQPLAIN, NATS user+pass, MQTT username+password, HTTP Basic): derives
 * StoredKey from `password` with the stored salt and iterations and compares in constant time.
 */
export async function verifyScramPassword(mechanism: ScramMechanism, credential: ScramCredential, password: string): Promise<boolean> {
  const hash = hashOf(mechanism);
  const salted = await saltedPassword(hash, password, Buffer.from(credential.salt, 'base64'), credential.iterations);
  const storedKey = createHash(hash.name).update(hmac(hash, salted, 'Client Key')).digest();
  const expected = Buffer.from(credential.storedKey, 'base64');
  return expected.length === storedKey.length && timingSafeEqual(expected, storedKey);
}

/** Looks up a user's credential for a mechanism; undefined when there is no such user or credential. */
export type ScramCredentialLookup = (username: string, mechanism: ScramMechanism) => ScramCredential | undefined;

export type ScramServerState = 'initial' | 'first-sent' | 'succeeded' | 'failed';

export interface ScramFinalResult {
  ok: boolean;
  /** server-final-message: `v=...` on success, `e=...` on failure. */
  response: string;
}

/** Per-process secret for fake salts of unknown users: stable within a run, unguessable. */
const FAKE_SALT_KEY = randomBytes(32);

function failed(reason: string): BrokerError {
  return new BrokerError('TRIB_AUTHENTICATION_FAILED', `SCRAM: ${reason}`);
}

/** saslname: '=2C' is ',', '=3D' is '='; any other '=' (or a raw ',') is invalid encoding. */
function decodeSaslName(s: string): string {
  if (/=(?!2C|3D)/.test(s)) throw failed('invalid username encoding');
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

/**
 * The server side of one SCRAM exchange: `clientFirst()` then `clientFinal()`, once each. Not reusable.
 * Malformed messages throw BrokerError TRIB_AUTHENTICATION_FAILED and move to 'failed'.
 */
export class ScramServerSession {
  private _state: ScramServerState = 'initial';
  private _username: string | undefined;
  private _authzid: string | undefined;
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private credential: ScramCredential | undefined;
  private readonly hash: HashInfo;

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly lookup: ScramCredentialLookup,
    private readonly options: { serverNonce?: string } = {},
  ) {
    this.hash = hashOf(mechanism);
  }

  get state(): ScramServerState {
    return this._state;
  }
  /** The user name from client-first (authenticated only once state is 'succeeded'). */
  get username(): string | undefined {
    return this._username;
  }
  /** The authorization identity the client asked for, if any (callers must check it equals the user). */
  get authzid(): string | undefined {
    return this._authzid;
  }

  /** Takes client-first-message, returns server-first-message. */
  clientFirst(message: string | Buffer): string {
    if (this._state !== 'initial') throw this.fail('client-first out of order');
    const text = typeof message === 'string' ? message : message.toString('utf8');
    const first = text.indexOf(',');
    const second = first < 0 ? -1 : text.indexOf(',', first + 1);
    if (second < 0) throw this.fail('client-first has no gs2 header');
    const cbind = text.slice(0, first);
    const authzid = text.slice(first + 1, second);
    if (cbind.startsWith('p=')) throw this.fail('channel binding is not supported');
    if (cbind !== 'n' && cbind !== 'y') throw this.fail('invalid gs2 channel-binding flag');
    if (authzid !== '') {
      if (!authzid.startsWith('a=')) throw this.fail('invalid authzid');
      this._authzid = decodeSaslName(authzid.slice(2));
    }
    this.gs2Header = text.slice(0, second + 1);
    this.clientFirstBare = text.slice(second + 1);
    const attrs = this.clientFirstBare.split(',');
    if (attrs[0]?.startsWith('m=')) throw this.fail('mandatory extensions are not supported');
    if (!attrs[0]?.startsWith('n=') || !attrs[1]?.startsWith('r=')) throw this.fail('client-first must start n=user,r=nonce');
    // extensions = attr-val *("," attr-val); attr-val = ALPHA "=" value (RFC 5802 §7).
    for (let i = 2; i < attrs.length; i++) if (!/^[a-zA-Z]=/.test(attrs[i])) throw this.fail('invalid extension in client-first');
    let username: string;
    try {
      username = decodeSaslName(attrs[0].slice(2));
    } catch (err) {
      this._state = 'failed';
      throw err;
    }
    const clientNonce = attrs[1].slice(2);
    if (!PRINTABLE_NONCE.test(clientNonce)) throw this.fail('invalid client nonce');
    this._username = username;

    this.credential = this.lookup(username, this.mechanism);
    const cred = this.credential ?? this.fakeCredential(username);
    // base64 never contains ',', so the nonce is always a valid printable run.
    const serverNonce = this.options.serverNonce ?? randomBytes(24).toString('base64');
    this.nonce = clientNonce + serverNonce;
    this.serverFirst = `r=${this.nonce},s=${cred.salt},i=${cred.iterations}`;
    this._state = 'first-sent';
    return this.serverFirst;
  }

  /** Takes client-final-message, returns the server-final-message and whether the proof was right. */
  clientFinal(message: string | Buffer): ScramFinalResult {
    if (this._state !== 'first-sent') throw this.fail('client-final out of order');
    const text = typeof message === 'string' ? message : message.toString('utf8');
    const proofAt = text.lastIndexOf(',p=');
    if (proofAt < 0) return this.reject('invalid-encoding');
    const withoutProof = text.slice(0, proofAt);
    const attrs = withoutProof.split(',');
    if (!attrs[0]?.startsWith('c=') || !attrs[1]?.startsWith('r=')) return this.reject('invalid-encoding');
    if (attrs[0].slice(2) !== Buffer.from(this.gs2Header, 'utf8').toString('base64')) return this.reject('channel-bindings-dont-match');
    if (attrs[1].slice(2) !== this.nonce) return this.reject('other-error');
    const proof = Buffer.from(text.slice(proofAt + 3), 'base64');
    if (this.credential === undefined || proof.length !== this.hash.bytes) return this.reject('invalid-proof');

    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(this.credential.storedKey, 'base64');
    const clientSignature = hmac(this.hash, storedKey, authMessage);
    const clientKey = Buffer.alloc(this.hash.bytes);
    for (let i = 0; i < clientKey.length; i++) clientKey[i] = proof[i] ^ clientSignature[i];
    const computed = createHash(this.hash.name).update(clientKey).digest();
    if (computed.length !== storedKey.length || !timingSafeEqual(computed, storedKey)) return this.reject('invalid-proof');

    const serverSignature = hmac(this.hash, Buffer.from(this.credential.serverKey, 'base64'), authMessage);
    this._state = 'succeeded';
    return { ok: true, response: `v=${serverSignature.toString('base64')}` };
  }

  private reject(serverError: string): ScramFinalResult {
    this._state = 'failed';
    return { ok: false, response: `e=${serverError}` };
  }

  private fail(reason: string): BrokerError {
    this._state = 'failed';
    return failed(reason);
  }

  private fakeCredential(username: string): ScramCredential {
    const salt = createHmac('sha256', FAKE_SALT_KEY).update(username).digest().subarray(0, SALT_BYTES);
    return { salt: salt.toString('base64'), iterations: DEFAULT_SCRAM_ITERATIONS, storedKey: '', serverKey: '' };
  }
}
