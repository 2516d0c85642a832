/**
 * The BrokerOptions a resolved server configuration hands to the broker: a server started with no plugins and a
 * broker stand-in that records what it was given, then stopped. For tests that a flag, variable or file key
 * reaches the core (the server wiring), without opening a real broker.
 */
import { pino } from 'pino';
import type { Config } from '../../src/server/config.js';
import { startServer } from '../../src/server/lifecycle.js';
import type { BrokerOptions } from '../../src/server/broker-handle.js';

export async function brokerOptionsOf(config: Config): Promise<BrokerOptions> {
  let seen: BrokerOptions | null = null;
  const server = await startServer({
    config,
    version: '0',
    logger: pino({ level: 'silent' }),
    plugins: [],
    openBroker: async (options) => {
      seen = options;
      return { ready: true, close: async () => undefined };
    },
  });
  await server.stop();
  if (seen === null) throw new Error('the server did not open a broker');
  return seen;
}
