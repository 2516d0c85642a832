/** DeleteGroups (42): an empty group and its committed offsets (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND). */
import type { DeleteGroupsRequest, DeleteGroupsResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { groupErrorCode, kafkaErrorOf } from '../error-map.js';

export async function handleDeleteGroups(ctx: KafkaContext, session: SessionState, req: DeleteGroupsRequest): Promise<Encodable<DeleteGroupsResponse>> {
  const results: Encodable<DeleteGroupsResponse.DeletableGroupResult>[] = [];
  for (const groupId of req.groupsNames) {
    try {
      ctx.broker.check(session.principal, 'delete', 'group', groupId);
      results.push({ groupId, errorCode: groupErrorCode(await ctx.coordinator.deleteGroup(groupId)) });
    } catch (err) {
      results.push({ groupId, errorCode: kafkaErrorOf(err, ErrorCode.GROUP_AUTHORIZATION_FAILED).code });
    }
  }
  return { throttleTimeMs: 0, results };
}
