/** LeaveGroup (13): v0–2 one member id; v3+ a list of members (dynamic by member id, static by instance id). */
import type { LeaveGroupRequest, LeaveGroupResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext } from '../context.js';
import { groupErrorCode } from '../error-map.js';

export function handleLeaveGroup(ctx: KafkaContext, req: LeaveGroupRequest, version: number): Encodable<LeaveGroupResponse> {
  const group = ctx.coordinator.group(req.groupId);
  if (version < 3) {
    if (group === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
    return { throttleTimeMs: 0, errorCode: groupErrorCode(group.leave(req.memberId, null)) };
  }
  const members = req.members.map((m) => ({
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    errorCode: group === undefined ? ErrorCode.UNKNOWN_MEMBER_ID : groupErrorCode(group.leave(m.memberId, m.groupInstanceId)),
  }));
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, members };
}
