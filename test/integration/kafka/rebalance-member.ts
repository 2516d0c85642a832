/**
 * A kafkajs group member in its own process, for rebalance.test.ts to SIGKILL: a crash the broker can only
 * notice by the session timing out. Arguments: port, group id, topic, session timeout (ms). It reports to its
 * parent over IPC: `{ type: 'join', partitions }` on every group join and `{ type: 'message', value }` for
 * every record, awaiting the IPC write before returning from eachMessage, so kafkajs commits an offset only
 * after the parent has been told about the record.
 */
import { Kafka, logLevel } from 'kafkajs';

const [port, groupId, topic, sessionTimeout] = process.argv.slice(2);
const send = (msg: object): Promise<void> => new Promise((resolve, reject) => process.send!(msg, (err: Error | null) => (err ? reject(err) : resolve())));

const kafka = new Kafka({ clientId: 'member-child', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 } });
const consumer = kafka.consumer({ groupId: groupId!, sessionTimeout: Number(sessionTimeout), rebalanceTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 100 });
consumer.on(consumer.events.GROUP_JOIN, (e) => void send({ type: 'join', partitions: (e.payload.memberAssignment[topic!] ?? []).slice().sort((a, b) => a - b) }));
await consumer.connect();
await consumer.subscribe({ topic: topic!, fromBeginning: true });
await consumer.run({ autoCommitThreshold: 1, eachMessage: async ({ message }) => send({ type: 'message', value: message.value!.toString() }) });
// The parent ends this process with SIGKILL; a closed IPC channel (parent gone) ends it too.
process.on('disconnect', () => process.exit(0));
