/** ListGroups (16): every group this coordinator knows, with its state (v4+ may filter by state). */
import type { ListGroupsRequest, ListGroupsResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext } from '../context.js';

export function handleListGroups(ctx: KafkaContext, req: ListGroupsRequest): Encodable<ListGroupsResponse> {
  const states = new Set(req.statesFilter.map((s) => s.toLowerCase()));
  const groups = ctx.coordinator
    .list()
    .filter((g) => states.size === 0 || states.has(g.state.toLowerCase()))
    .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: 'classic' }));
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
}
