/**
 * A plain client for exact-bytes tests: every byte the server sent, kept both as a Buffer (`data`, for binary
 * protocols such as AMQP) and as latin1 text (`text`, for line protocols such as NATS: one character per byte,
 * so no multi-byte sequence is ever split or altered), and a bounded wait on a condition over them that is
 * checked again on every arrival (no polling, no sleeps). It runs over a TCP socket (`connect`) or over any
 * Duplex, e.g. the client end of an in-memory pair (`over`).
 */
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { within } from './within.js';

/** How long a wait may take by default: generous for a loaded machine, reached only by a failing wait. */
export const RAW_WAIT_MS = 5_000;

export class RawClient<S extends Duplex = Socket> {
  data = Buffer.alloc(0);
  text = '';
  /** How many chunks arrived; over an in-memory pair, one per write of the server end. */
  arrivals = 0;
  ended = false;
  readonly closed: Promise<void>;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly socket: S,
    private readonly waitMs: number,
  ) {
    socket.on('data', (b: Buffer) => {
      this.arrivals++;
      this.data = Buffer.concat([this.data, b]);
      this.text += b.toString('latin1');
      this.wake();
    });
    // A reset or a destroyed pair shows up as `ended`; an 'error' with no listener would crash the test file.
    socket.on('error', () => undefined);
    this.closed = once(socket, 'close').then(() => {
      this.ended = true;
      this.wake();
    });
  }

  /** A TCP connection to 127.0.0.1:`port`. */
  static async connect(port: number, waitMs = RAW_WAIT_MS): Promise<RawClient> {
    const socket = netConnect(port, '127.0.0.1');
    await within(once(socket, 'connect'), 'raw connect');
    return new RawClient(socket, waitMs);
  }

  /** A client over a stream that is connected already. */
  static over<S extends Duplex>(stream: S, waitMs = RAW_WAIT_MS): RawClient<S> {
    return new RawClient(stream, waitMs);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(b: string | Buffer): void {
    this.socket.write(b);
  }

  /** Resolves with the match once the received text matches `pattern`. */
  waitFor(pattern: RegExp, what?: string): Promise<RegExpMatchArray>;
  /** Resolves with all bytes received once `test` holds for them. */
  waitFor(test: (data: Buffer) => boolean, what: string): Promise<Buffer>;
  waitFor(condition: RegExp | ((data: Buffer) => boolean), what = String(condition)): Promise<RegExpMatchArray | Buffer> {
    if (condition instanceof RegExp) return this.until(() => this.text.match(condition), what, () => JSON.stringify(this.text.slice(-500)));
    return this.until(() => (condition(this.data) ? this.data : null), what, () => this.data.toString('hex').slice(-400));
  }

  /** Resolves with what `check` returns once it is not null; `shown` is what a failure message quotes. */
  async until<T>(check: () => T | null, what: string, shown: () => string): Promise<T> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const got = check();
      if (got !== null) return got;
      if (this.ended) throw new Error(`connection closed before ${what}; got ${shown()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${shown()}`);
      await within(new Promise<void>((resolve) => this.waiters.push(resolve)), what, left).catch(() => undefined);
    }
  }

  waitClosed(ms = this.waitMs): Promise<void> {
    return within(this.closed, 'the server to close the connection', ms);
  }
}
