/**
 * InitProducerId (22, v0–4). Without a transactional id (idempotent producers): a fresh producer id with epoch
 * 0, or (v3+, KIP-360) the next epoch of the id and epoch the client names; ids come from the core's
 * ProducerStateManager, which persists allocation so an id is never reused across restarts. With a
 * transactional id: the core's TransactionCoordinator maps it to a producer id and bumps the epoch on every
 * re-init, fencing the previous producer of that id and aborting its open transaction. (There is no
 * transactional-id ACL resource: writes are authorized per topic at Produce.)
 */
import type { InitProducerIdRequest, InitProducerIdResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { PRODUCER_FENCED_SINCE, txnErrorCode } from './txn-errors.js';

export async function handleInitProducerId(ctx: KafkaContext, req: InitProducerIdRequest, version: number): Promise<Encodable<InitProducerIdResponse>> {
  const fail = (errorCode: number): Encodable<InitProducerIdResponse> => ({ throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 });
  try {
    if (req.transactionalId !== null) {
      const expected = req.producerId >= 0 ? { producerId: req.producerId, producerEpoch: req.producerEpoch } : null;
      const r = await ctx.broker.transactions.initProducerId(req.transactionalId, req.transactionTimeoutMs, expected);
      if (r.error !== 'NONE') return fail(txnErrorCode(r.error, version, PRODUCER_FENCED_SINCE.initProducerId));
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: r.producerId, producerEpoch: r.producerEpoch };
    }
    if (req.producerId >= 0) {
      // An epoch bump for an id this broker never gave out is refused the way Kafka does for a lost producer.
      if (!ctx.producers.isAllocated(req.producerId) || req.producerEpoch < 0) return fail(ErrorCode.INVALID_PRODUCER_EPOCH);
      const bumped = await ctx.producers.bumpEpoch(req.producerId, req.producerEpoch);
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, ...bumped };
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: await ctx.producers.allocateProducerId(), producerEpoch: 0 };
  } catch (err) {
    return fail(kafkaErrorOf(err).code);
  }
}
