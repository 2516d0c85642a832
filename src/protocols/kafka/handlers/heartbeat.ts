/** Heartbeat (12): keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin. */
import type { HeartbeatRequest, HeartbeatResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext } from '../context.js';
import { groupErrorCode } from '../error-map.js';

export function handleHeartbeat(ctx: KafkaContext, req: HeartbeatRequest): Encodable<HeartbeatResponse> {
  const group = ctx.coordinator.group(req.groupId);
  if (group === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
  return { throttleTimeMs: 0, errorCode: groupErrorCode(group.heartbeat(req.memberId, req.generationId, req.groupInstanceId)) };
}
