/** SyncGroup (14): the leader hands out assignments; every member gets its own when the leader has synced. */
import type { SyncGroupRequest, SyncGroupResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext } from '../context.js';
import { groupErrorCode } from '../error-map.js';
import type { SyncResult } from '../../../core/consumer-group/index.js';

export async function handleSyncGroup(ctx: KafkaContext, req: SyncGroupRequest): Promise<Encodable<SyncGroupResponse>> {
  const group = ctx.coordinator.group(req.groupId);
  if (group === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.UNKNOWN_MEMBER_ID, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
  const result = await new Promise<SyncResult>((resolve) => {
    group.sync(
      {
        memberId: req.memberId,
        generationId: req.generationId,
        groupInstanceId: req.groupInstanceId,
        protocolType: req.protocolType,
        protocolName: req.protocolName,
        assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
      },
      resolve,
    );
  });
  return { throttleTimeMs: 0, errorCode: groupErrorCode(result.error), protocolType: result.protocolType, protocolName: result.protocolName, assignment: result.assignment };
}
