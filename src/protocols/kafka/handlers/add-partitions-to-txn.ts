/**
 * AddPartitionsToTxn (24, v0–3): the partitions join the producer's transaction (the coordinator begins one
 * when none is open). The request is all or nothing, as in Kafka: an unknown topic or partition, or a topic
 * the principal may not write, fails those partitions and answers OPERATION_NOT_ATTEMPTED for the rest;
 * a coordinator error (fenced epoch, wrong producer id, a transaction ending) is given to every partition.
 * (v4+ batches several transactions for brokers, and is not advertised.)
 */
import type { AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { PRODUCER_FENCED_SINCE, txnErrorCode } from './txn-errors.js';

export async function handleAddPartitionsToTxn(ctx: KafkaContext, session: SessionState, req: AddPartitionsToTxnRequest, version: number): Promise<Encodable<AddPartitionsToTxnResponse>> {
  const topics = req.v3AndBelowTopics;
  const failures = new Map<string, number>();
  const wanted: Array<{ topic: string; partition: number }> = [];
  for (const t of topics) {
    let code: number = ErrorCode.NONE;
    let partitionCount = 0;
    try {
      ctx.broker.check(session.principal, 'write', 'stream', t.name);
      partitionCount = ctx.broker.requireStream(t.name).partitionCount;
    } catch (err) {
      code = kafkaErrorOf(err).code;
    }
    for (const p of t.partitions) {
      if (code !== ErrorCode.NONE) failures.set(`${t.name}\0${p}`, code);
      else if (p < 0 || p >= partitionCount) failures.set(`${t.name}\0${p}`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      else wanted.push({ topic: t.name, partition: p });
    }
  }
  let common: number;
  if (failures.size > 0) common = ErrorCode.OPERATION_NOT_ATTEMPTED;
  else {
    try {
      const err = await ctx.broker.transactions.addPartitions(req.v3AndBelowTransactionalId, req.v3AndBelowProducerId, req.v3AndBelowProducerEpoch, wanted);
      common = txnErrorCode(err, version, PRODUCER_FENCED_SINCE.addPartitionsToTxn);
    } catch (err) {
      common = kafkaErrorOf(err).code;
    }
  }
  return {
    throttleTimeMs: 0,
    resultsByTopicV3AndBelow: topics.map((t) => ({
      name: t.name,
      resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: failures.get(`${t.name}\0${p}`) ?? common })),
    })),
  };
}
