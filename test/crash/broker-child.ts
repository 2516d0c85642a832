/**
 * Child process for the broker kill -9 test. Opens a Broker over argv[2] (fsync always), makes sure stream
 * `jobs` and cursor `workers` exist, then loops: publishes numbered messages (printing `P <n>` once the
 * publish promise resolved, i.e. once durable) and acknowledges what the cursor delivers (printing `A <offset>`
 * once the ack promise resolved, i.e. once the cursor state is durable). stdout to a pipe is synchronous on
 * Linux, so a printed line was acknowledged before any kill.
 */
import { Broker } from '../../src/core/broker.js';
import { ANONYMOUS } from '../../src/core/principal.js';
import type { Delivery } from '../../src/core/cursor/cursor-state.js';

const dir = process.argv[2];
let next = Number(process.argv[3]);
const broker = await Broker.open({ dataDir: dir, fsync: 'always', fsyncIntervalMs: 1000 });
if (!broker.stream('jobs')) await broker.createStream(ANONYMOUS, { name: 'jobs', retention: 'workqueue', configs: { 'segment.bytes': '4096' } });
const cursor = await broker.createCursor(ANONYMOUS, { stream: 'jobs', name: 'workers' });
cursor.attach({
  id: 'child',
  prefetchCount: 50,
  context: {
    deliver(d: Delivery) {
      // Ack most deliveries; leave every seventh in flight so restarts must redeliver it.
      if (d.offset % 7 === 3 && !d.redelivered) return;
      void cursor.ack(d).then(() => process.stdout.write(`A ${d.offset}\n`));
    },
  },
});
process.stdout.write('ready\n');
for (;;) {
  const batch: Promise<void>[] = [];
  for (let i = 0; i < 1 + (next % 5); i++) {
    const n = next++;
    batch.push(
      broker
        .publish(ANONYMOUS, { subject: 'jobs', key: null, value: Buffer.from(String(n)), headers: [], timestamp: Date.now() })
        .then(() => void process.stdout.write(`P ${n}\n`)),
    );
  }
  await Promise.all(batch);
  // Bounded retention runs race the kill too: trimming must never drop what the cursor has not acked.
  if (next % 40 < 5) await broker.runRetention();
}
