/** Topic auto-creation shared by Metadata and Produce (Kafka's auto.create.topics.enable, num.partitions). */
import type { Stream } from '../../../core/stream.js';
import { isBrokerError } from '../../../core/broker-error.js';
import type { KafkaContext, SessionState } from '../context.js';

/**
 * The stream `name`, created with the default partition count if missing. Throws the core's errors
 * (TRIB_INVALID_NAME for a bad topic name, TRIB_UNAUTHORIZED).
 */
export async function ensureTopic(ctx: KafkaContext, session: SessionState, name: string): Promise<Stream> {
  const existing = ctx.broker.stream(name);
  if (existing !== undefined) return existing;
  try {
    const created = await ctx.broker.createStream(session.principal, { name, partitions: ctx.defaultPartitions });
    ctx.logger.info({ topic: name, partitions: ctx.defaultPartitions, session: session.id }, 'auto-created topic');
    return created!;
  } catch (err) {
    // Two connections auto-creating the same topic at once: the loser uses the winner's stream.
    if (isBrokerError(err, 'TRIB_STREAM_EXISTS')) return ctx.broker.requireStream(name);
    throw err;
  }
}
