/**
 * AddOffsetsToTxn (25, v0–3): the group's offsets may be committed inside the producer's transaction
 * (TxnOffsetCommit follows, sent to the group coordinator — this node too).
 */
import type { AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { PRODUCER_FENCED_SINCE, txnErrorCode } from './txn-errors.js';

export async function handleAddOffsetsToTxn(ctx: KafkaContext, session: SessionState, req: AddOffsetsToTxnRequest, version: number): Promise<Encodable<AddOffsetsToTxnResponse>> {
  if (req.groupId === '') return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID };
  try {
    ctx.broker.check(session.principal, 'read', 'group', req.groupId);
    const err = await ctx.broker.transactions.addOffsets(req.transactionalId, req.producerId, req.producerEpoch, req.groupId);
    return { throttleTimeMs: 0, errorCode: txnErrorCode(err, version, PRODUCER_FENCED_SINCE.addOffsetsToTxn) };
  } catch (err) {
    return { throttleTimeMs: 0, errorCode: kafkaErrorOf(err, ErrorCode.GROUP_AUTHORIZATION_FAILED).code };
  }
}
