/** DeleteTopics (20, v0–5 by name): deletes the stream and its data. Internal topics cannot be deleted. */
import type { DeleteTopicsRequest, DeleteTopicsResponse, Encodable } from '../codec/index.js';
import { ErrorCode, ZERO_UUID } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { isInternalStreamName } from '../../../core/stream.js';

export async function handleDeleteTopics(ctx: KafkaContext, session: SessionState, req: DeleteTopicsRequest): Promise<Encodable<DeleteTopicsResponse>> {
  const names = req.topicNames.length > 0 ? req.topicNames : req.topics.map((t) => t.name ?? '');
  const responses: Encodable<DeleteTopicsResponse.DeletableTopicResult>[] = [];
  for (const name of names) {
    if (isInternalStreamName(name) && ctx.broker.stream(name) !== undefined) {
      responses.push({ name, topicId: ZERO_UUID, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: `'${name}' is an internal topic` });
      continue;
    }
    try {
      await ctx.broker.deleteStream(session.principal, name);
      ctx.logger.info({ topic: name, session: session.id }, 'deleted topic');
      responses.push({ name, topicId: ZERO_UUID, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      const e = kafkaErrorOf(err);
      responses.push({ name, topicId: ZERO_UUID, errorCode: e.code, errorMessage: e.message });
    }
  }
  return { throttleTimeMs: 0, responses };
}
