/**
 * InitProducerId (22, v0–4) for idempotent producers: a fresh producer id with epoch 0, or (v3+, KIP-360) the
 * next epoch of the id and epoch the client names. Ids come from the core's ProducerStateManager, which persists
 * allocation so an id is never reused across restarts. Transactions are not implemented: a transactional id is
 * answered COORDINATOR_NOT_AVAILABLE, as FindCoordinator answers for transaction coordinators.
 */
import type { InitProducerIdRequest, InitProducerIdResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';

export async function handleInitProducerId(ctx: KafkaContext, req: InitProducerIdRequest): Promise<Encodable<InitProducerIdResponse>> {
  const fail = (errorCode: number): Encodable<InitProducerIdResponse> => ({ throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 });
  if (req.transactionalId !== null) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  try {
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
