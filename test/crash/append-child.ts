/**
 * Child process for the kill -9 test: opens a PartitionLog (fsync always) in argv[2] and appends numbered
 * records from argv[3] upward, a few appends per tick so group commit is exercised. Each record is printed as
 * `<offset> <value>` on stdout only after its append promise resolved (stdout to a pipe is synchronous on
 * Linux, so a printed line was acknowledged before any kill).
 */
import { PartitionLog } from '../../src/storage/partition-log.js';
import { encodeRecordBatch } from '../../src/storage/record-batch.js';

const dir = process.argv[2];
let next = Number(process.argv[3]);
const log = await PartitionLog.open(dir, { fsync: 'always', segmentBytes: 16 * 1024, indexIntervalBytes: 512 });
process.stdout.write('ready\n');
for (;;) {
  const inFlight = 1 + (next % 4);
  const appends: Promise<void>[] = [];
  for (let i = 0; i < inFlight; i++) {
    const v = next++;
    // Records of varying size, sometimes several per batch.
    const records = [];
    const count = 1 + (v % 3);
    for (let r = 0; r < count; r++) records.push({ key: Buffer.from(`k${v}`), value: Buffer.from(`${v}:${r}:${'x'.repeat((v * 37) % 700)}`), timestamp: 1_000 + v });
    appends.push(log.append(encodeRecordBatch(records)).then((res) => void process.stdout.write(`${res.baseOffset} ${v} ${count}\n`)));
  }
  await Promise.all(appends);
}
