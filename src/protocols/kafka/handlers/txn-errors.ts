/**
 * The transaction coordinator's answers as Kafka error codes. PRODUCER_FENCED (90, KIP-588) is sent only to
 * request versions that know it; older versions get INVALID_PRODUCER_EPOCH, as Kafka's KafkaApis does.
 */
import type { TxnErrorName } from '../../../core/transactions/index.js';
import { ErrorCode } from '../codec/index.js';

/** First version of each transactional API whose clients understand PRODUCER_FENCED. */
export const PRODUCER_FENCED_SINCE = {
  initProducerId: 4,
  addPartitionsToTxn: 2,
  addOffsetsToTxn: 2,
  endTxn: 2,
  txnOffsetCommit: 2,
} as const;

export function txnErrorCode(name: TxnErrorName, version: number, fencedSince: number): number {
  if (name === 'PRODUCER_FENCED' && version < fencedSince) return ErrorCode.INVALID_PRODUCER_EPOCH;
  return ErrorCode[name];
}
