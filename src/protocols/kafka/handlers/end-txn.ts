/**
 * EndTxn (26, v0–3): commit or abort the producer's transaction. Answered once a COMMIT/ABORT marker is
 * durable in every partition of the transaction and, for a commit, its offsets are in their groups.
 */
import type { EndTxnRequest, EndTxnResponse, Encodable } from '../codec/index.js';
import type { KafkaContext } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { PRODUCER_FENCED_SINCE, txnErrorCode } from './txn-errors.js';

export async function handleEndTxn(ctx: KafkaContext, req: EndTxnRequest, version: number): Promise<Encodable<EndTxnResponse>> {
  try {
    const err = await ctx.broker.transactions.endTxn(req.transactionalId, req.producerId, req.producerEpoch, req.committed);
    return { throttleTimeMs: 0, errorCode: txnErrorCode(err, version, PRODUCER_FENCED_SINCE.endTxn) };
  } catch (err) {
    return { throttleTimeMs: 0, errorCode: kafkaErrorOf(err).code };
  }
}
