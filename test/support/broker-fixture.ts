/**
 * A Broker under test with its protocol listener: a temp data dir (or a given one, which is then kept), the
 * listener's log captured, the listener bound on 127.0.0.1:0 (or left unbound for in-memory sessions through
 * `listener.handle`), and everything closed when the test ends, in order: the test's clients (`onStop`), the
 * listener, the broker, then the temp dir. `stop` does the same at once (the dir stays); `restart` stops and
 * opens broker and listener again over the same data dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Broker, type BrokerOptions } from '../../src/core/broker.js';
import type { ProtocolListener } from '../../src/server/listener-plugin.js';
import type { BoundAddress } from '../../src/server/protocol-plugin.js';
import { captureLogger, type LogEntry } from './capture-logger.js';

export type TestLogger = ReturnType<typeof captureLogger>['logger'];

export interface BrokerFixtureOptions<L extends ProtocolListener> {
  /** Names the temp dir, `trib-<name>-…`. */
  name: string;
  /** Builds the listener over a freshly opened broker (again after a restart). */
  listener(deps: { broker: Broker; logger: TestLogger }): L;
  /** Over the defaults: fsync 'never' (no test here measures durability unless it asks), interval 1 s. */
  broker?: Partial<BrokerOptions>;
  /** Reuse this data dir (restart across fixtures); whoever created it removes it. */
  dataDir?: string;
  /** Bind the listener on 127.0.0.1:0; false for sessions over in-memory pairs only. Default true. */
  listen?: boolean;
}

export class BrokerFixture<L extends ProtocolListener> {
  /** The current broker and listener (new ones after `restart`). */
  broker!: Broker;
  listener!: L;
  /** The first bound port (0 when not listening). */
  port!: number;
  /** Every address the listener bound, in the order it returned them. */
  bound!: BoundAddress[];
  private readonly closers: Array<() => unknown> = [];
  private stopping: Promise<void> | null = null;

  constructor(
    readonly dataDir: string,
    readonly entries: LogEntry[],
    private readonly logger: TestLogger,
    private readonly options: BrokerFixtureOptions<L>,
    opened: Opened<L>,
  ) {
    this.adopt(opened);
  }

  private adopt(opened: Opened<L>): void {
    this.broker = opened.broker;
    this.listener = opened.listener;
    this.bound = opened.bound;
    this.port = opened.bound[0]?.port ?? 0;
  }

  /** Runs `close` at the next stop, before the listener closes: for a client the test opened. */
  onStop(close: () => unknown): void {
    this.closers.push(close);
  }

  /** Closes the clients, the listener and the broker; later calls wait for the same close. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const close of this.closers.splice(0)) {
        try {
          await close();
        } catch {
          // A client the test closed or broke itself may fail to close again; the rest must still be closed.
        }
      }
      await this.listener.close();
      await this.broker.close();
    })();
    return this.stopping;
  }

  /** Stops, then opens broker and listener again over the same data dir (on a new port). */
  async restart(): Promise<void> {
    await this.stop();
    this.adopt(await open(this.dataDir, this.options, this.logger));
    this.stopping = null;
  }
}

/** A broker and its listener for test `t`, closed when it ends. */
export async function startBroker<L extends ProtocolListener>(t: TestContext, options: BrokerFixtureOptions<L>): Promise<BrokerFixture<L>> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), `trib-${options.name}-`)));
  const { logger, entries } = captureLogger();
  const f = new BrokerFixture(dataDir, entries, logger, options, await open(dataDir, options, logger));
  t.after(async () => {
    await f.stop();
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
  });
  return f;
}

interface Opened<L> {
  broker: Broker;
  listener: L;
  bound: BoundAddress[];
}

async function open<L extends ProtocolListener>(dataDir: string, options: BrokerFixtureOptions<L>, logger: TestLogger): Promise<Opened<L>> {
  const broker = await Broker.open({ dataDir, fsync: 'never', fsyncIntervalMs: 1000, ...options.broker });
  const listener = options.listener({ broker, logger });
  const bound = options.listen === false ? [] : await listener.listen('127.0.0.1', 0);
  return { broker, listener, bound };
}
