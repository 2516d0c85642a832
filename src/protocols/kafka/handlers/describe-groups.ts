/** DescribeGroups (15): state, protocol and members (metadata and assignment while Stable). */
import type { DescribeGroupsRequest, DescribeGroupsResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext } from '../context.js';

export function handleDescribeGroups(ctx: KafkaContext, req: DescribeGroupsRequest): Encodable<DescribeGroupsResponse> {
  const groups = req.groups.map((groupId) => {
    const d = ctx.coordinator.describe(groupId);
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      groupState: d.state,
      protocolType: d.protocolType,
      protocolData: d.protocolName,
      members: d.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: m.metadata,
        memberAssignment: m.assignment,
      })),
    };
  });
  return { throttleTimeMs: 0, groups };
}
