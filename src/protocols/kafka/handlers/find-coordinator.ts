/**
 * FindCoordinator (10): this broker coordinates every group (key type 0). Transactions (key type 1) are not
 * implemented: COORDINATOR_NOT_AVAILABLE. v4+ asks for several keys at once.
 */
import type { FindCoordinatorRequest, FindCoordinatorResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext } from '../context.js';

const KEY_TYPE_GROUP = 0;

export function handleFindCoordinator(ctx: KafkaContext, req: FindCoordinatorRequest, version: number): Encodable<FindCoordinatorResponse> {
  const supported = req.keyType === KEY_TYPE_GROUP;
  const errorCode = supported ? ErrorCode.NONE : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  const errorMessage = supported ? null : 'transactions are not supported';
  const nodeId = supported ? ctx.nodeId : -1;
  const host = supported ? ctx.advertisedHost : '';
  const port = supported ? ctx.advertisedPort : -1;
  if (version >= 4) {
    return { throttleTimeMs: 0, coordinators: req.coordinatorKeys.map((key) => ({ key, nodeId, host, port, errorCode, errorMessage })) };
  }
  return { throttleTimeMs: 0, errorCode, errorMessage, nodeId, host, port };
}
