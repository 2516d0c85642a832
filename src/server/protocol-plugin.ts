/**
 * The shape every listener takes: each protocol (protocols/<name>/index.ts) and the server's own HTTP endpoint
 * export one ProtocolPlugin, and lifecycle.ts starts the enabled ones in order and stops them in reverse.
 * A plugin owns its sockets and sessions; it reaches the broker only through the context.
 */
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { BrokerHandle } from './broker-handle.js';
import type { Metrics } from './metrics.js';

export interface ProtocolContext {
  config: Config;
  /** The open broker. Plugins narrow it to what they need once core/broker.ts exists. */
  broker: BrokerHandle;
  metrics: Metrics;
  /** Already bound to the plugin (`{ protocol: name }`). */
  logger: Logger;
  /** Where the server is in its life. */
  state(): ServerState;
  /** True while state is 'ready' and the broker reports ready: what /healthz and /readyz answer. */
  isReady(): boolean;
  /** Addresses bound so far by every plugin, by name (complete once the server is ready); for /api/status. */
  listeners?(): ReadonlyMap<string, BoundAddress[]>;
}

export type ServerState = 'starting' | 'ready' | 'stopping' | 'stopped';

export interface BoundAddress {
  address: string;
  port: number;
}

export interface ProtocolPlugin {
  /** Short lower-case name, used in the start line (`http=127.0.0.1:8080`) and as the metrics label. */
  readonly name: string;
  /** Binds the listener(s) and resolves with the actual addresses (real ports when 0 was asked for). */
  start(ctx: ProtocolContext): Promise<BoundAddress[]>;
  /** Stops accepting, closes connections (protocol's own goodbye where it has one) and resolves when done. */
  stop(): Promise<void>;
}

/** `127.0.0.1:8080`, `[::1]:8080`. */
export function formatAddress(a: BoundAddress): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
