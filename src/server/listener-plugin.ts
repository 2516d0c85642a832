/**
 * Adapts a protocol's listener to the server's plugin model. Protocols may not import server/ (layer rule),
 * so each exports a factory returning an object of the `ProtocolListener` shape below; TypeScript's
 * structural typing checks the fit here, and the protocol never sees the server's types.
 */
import type { Logger } from 'pino';
import { Broker } from '../core/broker.js';
import type { Config } from './config.js';
import type { Metrics } from './metrics.js';
import type { BoundAddress, ProtocolContext, ProtocolPlugin } from './protocol-plugin.js';

/** What a protocol's listener offers the server: bind, then close (with the protocol's own goodbye). */
export interface ProtocolListener {
  listen(host: string, port: number): Promise<BoundAddress[]>;
  close(): Promise<void>;
}

export interface ListenerDeps {
  broker: Broker;
  config: Config;
  metrics: Metrics;
  logger: Logger;
}

/** A plugin that starts `create(deps).listen(config.host, port(config))` and closes it on stop. */
export function listenerPlugin(name: string, port: (config: Config) => number, create: (deps: ListenerDeps) => ProtocolListener): ProtocolPlugin {
  let listener: ProtocolListener | null = null;
  return {
    name,
    async start(ctx: ProtocolContext): Promise<BoundAddress[]> {
      if (!(ctx.broker instanceof Broker)) throw new Error(`the ${name} listener needs the core Broker`);
      listener = create({ broker: ctx.broker, config: ctx.config, metrics: ctx.metrics, logger: ctx.logger });
      return listener.listen(ctx.config.host, port(ctx.config));
    },
    async stop(): Promise<void> {
      const l = listener;
      listener = null;
      if (l) await l.close();
    },
  };
}
