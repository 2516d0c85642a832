/** JoinGroup (11): into the core's ConsumerGroup state machine; answers when the rebalance completes. */
import type { JoinGroupRequest, JoinGroupResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { groupErrorCode, kafkaErrorOf } from '../error-map.js';
import type { JoinResult } from '../../../core/consumer-group/index.js';

export async function handleJoinGroup(ctx: KafkaContext, session: SessionState, req: JoinGroupRequest, clientId: string): Promise<Encodable<JoinGroupResponse>> {
  const fail = (errorCode: number): Encodable<JoinGroupResponse> => ({ throttleTimeMs: 0, errorCode, generationId: -1, protocolName: null, leader: '', memberId: req.memberId, members: [] });
  if (req.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID);
  try {
    ctx.broker.check(session.principal, 'read', 'group', req.groupId);
  } catch (err) {
    return fail(kafkaErrorOf(err, ErrorCode.GROUP_AUTHORIZATION_FAILED).code);
  }
  const group = ctx.coordinator.getOrCreate(req.groupId);
  const result = await new Promise<JoinResult>((resolve) => {
    group.join(
      {
        memberId: req.memberId,
        groupInstanceId: req.groupInstanceId,
        clientId,
        clientHost: session.clientHost,
        sessionTimeoutMs: req.sessionTimeoutMs,
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalanceTimeoutMs: req.rebalanceTimeoutMs >= 0 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
        protocolType: req.protocolType,
        protocols: req.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      },
      resolve,
    );
  });
  return {
    throttleTimeMs: 0,
    errorCode: groupErrorCode(result.error),
    generationId: result.generationId,
    protocolType: result.protocolType,
    protocolName: result.protocolName,
    leader: result.leader,
    memberId: result.memberId,
    members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  };
}
