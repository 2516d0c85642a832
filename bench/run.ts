/**
 * Benchmark dispatcher: `node dist/bench/run.js <area>` runs bench/<area>.ts's exported `run()`.
 * `npm run bench -- storage` builds first. Each area prints its own table with a same-run baseline ratio.
 */
const AREAS: Record<string, () => Promise<{ run: (args: string[]) => Promise<void> }>> = {
  storage: () => import('./storage.js'),
  'kafka-codec': () => import('./kafka-codec.js'),
  'amqp-codec': () => import('./amqp-codec.js'),
  amqp: () => import('./amqp.js'),
  'nats-parser': () => import('./nats-parser.js'),
  nats: () => import('./nats.js'),
  'mqtt-codec': () => import('./mqtt-codec.js'),
  mqtt: () => import('./mqtt.js'),
  router: () => import('./router.js'),
  cursor: () => import('./cursor.js'),
  kafka: () => import('./kafka.js'),
};

const [area, ...rest] = process.argv.slice(2);
const load = area === undefined ? undefined : AREAS[area];
if (load === undefined) {
  console.error(`usage: node dist/bench/run.js <area> [args]\nareas: ${Object.keys(AREAS).join(', ')}`);
  process.exit(area === undefined ? 0 : 1);
} else {
  const mod = await load();
  await mod.run(rest);
}
