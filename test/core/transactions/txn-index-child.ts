/**
 * Child process for the transaction index kill -9 test. Opens a Broker over argv[2] (fsync always), makes sure
 * stream `ledger` exists, then runs transactions one after another through the core (coordinator + appends the
 * way the Kafka produce path makes them), committing or aborting each, numbered from argv[3]. It prints
 * `C <n>` / `A <n>` once EndTxn resolved (markers durable) and `O <n>` once a transaction's record is appended
 * and before it ends. stdout to a pipe is synchronous on Linux, so a printed line happened before any kill.
 */
import { Broker } from '../../../src/core/broker.js';
import { ANONYMOUS } from '../../../src/core/principal.js';
import { ATTR_TRANSACTIONAL, encodeRecordBatch } from '../../../src/storage/record-batch.js';

const dir = process.argv[2];
let n = Number(process.argv[3]);
// Index snapshots every few ms, so kills land before, during and after their writes, with transactions open.
const broker = await Broker.open({ dataDir: dir, fsync: 'always', fsyncIntervalMs: 1000, transactions: { checkIntervalMs: 5, indexSnapshotIntervalMs: 5 } });
if (!broker.stream('ledger')) await broker.createStream(ANONYMOUS, { name: 'ledger', partitions: 1, configs: { 'segment.bytes': '8192' } });
const stream = broker.requireStream('ledger');
const txns = broker.transactions;
process.stdout.write('ready\n');
for (;;) {
  const tid = `t${n % 3}`;
  const init = await txns.initProducerId(tid, 60_000);
  const { producerId, producerEpoch } = init;
  await txns.addPartitions(tid, producerId, producerEpoch, [{ topic: 'ledger', partition: 0 }]);
  const index = await txns.index.partition(stream, 0);
  const opened = index.begin(producerId, stream.offsets(0).endOffset);
  const r = await stream.appendBatch(0, encodeRecordBatch([{ value: Buffer.from(String(n)) }], { attributes: ATTR_TRANSACTIONAL, producerId, producerEpoch, baseSequence: 0 }));
  if (opened) index.settleFirst(producerId, r.baseOffset);
  process.stdout.write(`O ${n}\n`);
  // Non-transactional records between transactions, as other protocols write them.
  await stream.publish({ subject: 'ledger', key: null, value: Buffer.from(`plain-${n}`), headers: [], timestamp: Date.now() });
  const commit = n % 3 !== 1;
  await txns.endTxn(tid, producerId, producerEpoch, commit);
  process.stdout.write(`${commit ? 'C' : 'A'} ${n}\n`);
  n++;
}
