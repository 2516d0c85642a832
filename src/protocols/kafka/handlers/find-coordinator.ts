/**
 * FindCoordinator (10): this single node coordinates every group (key type 0) and every transactional id
 * (key type 1). Other key types (share groups, KIP-932) are answered INVALID_REQUEST. v4+ asks for several
 * keys at once.
 */
import type { FindCoordinatorRequest, FindCoordinatorResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext } from '../context.js';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

export function handleFindCoordinator(ctx: KafkaContext, req: FindCoordinatorRequest, version: number): Encodable<FindCoordinatorResponse> {
  const supported = req.keyType === KEY_TYPE_GROUP || req.keyType === KEY_TYPE_TRANSACTION;
  const errorCode = supported ? ErrorCode.NONE : ErrorCode.INVALID_REQUEST;
  const errorMessage = supported ? null : `coordinator key type ${req.keyType} is not supported`;
  const nodeId = supported ? ctx.nodeId : -1;
  const host = supported ? ctx.advertisedHost : '';
  const port = supported ? ctx.advertisedPort : -1;
  if (version >= 4) {
    return { throttleTimeMs: 0, coordinators: req.coordinatorKeys.map((key) => ({ key, nodeId, host, port, errorCode, errorMessage })) };
  }
  return { throttleTimeMs: 0, errorCode, errorMessage, nodeId, host, port };
}
