/**
 * Kafka consumer groups over HTTP, through the Broker's GroupCoordinator: list, describe (members with their
 * decoded assignments, committed offsets with lag), reset offsets, delete.
 *
 * Resetting and deleting need an inactive group (no live members), as Kafka's kafka-consumer-groups tool does:
 * a running consumer would overwrite a reset with its next commit. A reset is committed through the
 * coordinator, so it is durable in `__consumer_offsets` before the answer, and a consumer that joins
 * afterwards resumes from it.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BrokerError } from '../../core/broker-error.js';
import type { Broker } from '../../core/broker.js';
import type { OffsetCommitInput } from '../../core/consumer-group/index.js';
import { ApiError, parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';
import { tryDecodeConsumerAssignment } from './consumer-assignment.js';

export const GroupParams = z.object({ id: z.string().min(1) });

export const ResetOffsetsBody = z
  .strictObject({
    topic: z.string().min(1),
    partitions: z.array(z.int().min(0)).min(1).optional().describe('Default: every partition of the topic.'),
    to: z.enum(['earliest', 'latest', 'offset', 'timestamp']),
    offset: z.int().min(0).optional().describe('With to=offset; clamped to the partition’s range, as Kafka’s tool does.'),
    timestamp: z
      .union([z.int().min(0), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))])
      .optional()
      .describe('With to=timestamp: ms since the epoch or ISO-8601; the first offset at or after it.'),
  })
  .superRefine((b, ctx) => {
    if (b.to === 'offset' && b.offset === undefined) ctx.addIssue({ code: 'custom', path: ['offset'], message: 'required with to=offset' });
    if (b.to === 'timestamp' && b.timestamp === undefined) ctx.addIssue({ code: 'custom', path: ['timestamp'], message: 'required with to=timestamp' });
  });

interface OffsetRow {
  topic: string;
  partition: number;
  committedOffset: number | null;
  endOffset: number | null;
  lag: number | null;
  metadata: string | null;
}

/** Committed offsets of a group, plus assigned partitions it has not committed yet, each with its lag. */
export function groupOffsets(broker: Broker, groupId: string, assigned: ReadonlyArray<{ topic: string; partitions: number[] }> = []): { offsets: OffsetRow[]; totalLag: number } {
  const rows = new Map<string, OffsetRow>();
  const endOf = (topic: string, partition: number): number | null => {
    const s = broker.stream(topic);
    return s === undefined || partition >= s.partitionCount ? null : s.offsets(partition).highWatermark;
  };
  for (const [topic, parts] of broker.groups.offsets.all(groupId)) {
    for (const [partition, c] of parts) {
      const endOffset = endOf(topic, partition);
      rows.set(`${topic}\0${partition}`, {
        topic,
        partition,
        committedOffset: c.offset,
        endOffset,
        lag: endOffset === null || c.offset < 0 ? null : Math.max(0, endOffset - c.offset),
        metadata: c.metadata,
      });
    }
  }
  for (const a of assigned) {
    for (const partition of a.partitions) {
      const key = `${a.topic}\0${partition}`;
      if (!rows.has(key)) rows.set(key, { topic: a.topic, partition, committedOffset: null, endOffset: endOf(a.topic, partition), lag: null, metadata: null });
    }
  }
  const offsets = [...rows.values()].sort((x, y) => (x.topic < y.topic ? -1 : x.topic > y.topic ? 1 : x.partition - y.partition));
  return { offsets, totalLag: offsets.reduce((sum, r) => sum + (r.lag ?? 0), 0) };
}

/** A group's full description, or TRIB_GROUP_NOT_FOUND. */
export function describeGroup(broker: Broker, groupId: string): object {
  const d = broker.groups.describe(groupId);
  if (d.state === 'Dead') throw new BrokerError('TRIB_GROUP_NOT_FOUND', `consumer group '${groupId}' does not exist`);
  const members = d.members.map((m) => ({
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    clientId: m.clientId,
    clientHost: m.clientHost,
    assignment: d.protocolType === 'consumer' ? tryDecodeConsumerAssignment(m.assignment) : [],
  }));
  const { offsets, totalLag } = groupOffsets(broker, groupId, members.flatMap((m) => m.assignment));
  return {
    groupId,
    state: d.state,
    protocolType: d.protocolType,
    protocol: d.protocolName,
    generationId: broker.groups.group(groupId)?.generationId ?? 0,
    members,
    offsets,
    totalLag,
  };
}

function requireInactive(broker: Broker, groupId: string): void {
  const members = broker.groups.group(groupId)?.memberCount ?? 0;
  if (members > 0) throw new BrokerError('TRIB_GROUP_NOT_EMPTY', `consumer group '${groupId}' has ${members} live member(s); stop them first`);
}

export async function groupRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  app.get('/api/groups', async (req) => {
    const principal = principalOf(req);
    const groups = broker.groups
      .list()
      .filter((g) => broker.authorizer.authorize(principal, 'describe', { type: 'group', name: g.groupId }))
      .map((g) => ({ groupId: g.groupId, state: g.state, protocolType: g.protocolType, members: broker.groups.group(g.groupId)?.memberCount ?? 0 }));
    return { groups };
  });

  app.get('/api/groups/:id', async (req) => {
    const { id } = parseInput(GroupParams, req.params, 'params');
    broker.check(principalOf(req), 'describe', 'group', id);
    return describeGroup(broker, id);
  });

  app.post('/api/groups/:id/reset-offsets', async (req) => {
    const { id } = parseInput(GroupParams, req.params, 'params');
    const body = parseInput(ResetOffsetsBody, req.body, 'body');
    const principal = principalOf(req);
    broker.check(principal, 'read', 'group', id);
    broker.check(principal, 'describe', 'stream', body.topic);
    const stream = broker.requireStream(body.topic);
    const partitions = body.partitions ?? Array.from({ length: stream.partitionCount }, (_, p) => p);
    for (const p of partitions) {
      if (p >= stream.partitionCount) throw new BrokerError('TRIB_PARTITION_NOT_FOUND', `stream '${stream.name}' has no partition ${p}`);
    }
    requireInactive(broker, id);
    const now = Date.now();
    const commits: OffsetCommitInput[] = [];
    for (const partition of partitions) {
      const { startOffset, highWatermark } = stream.offsets(partition);
      let offset: number;
      if (body.to === 'earliest') offset = startOffset;
      else if (body.to === 'latest') offset = highWatermark;
      else if (body.to === 'offset') offset = Math.min(Math.max(body.offset!, startOffset), highWatermark);
      else offset = (await stream.offsetForTimestamp(partition, body.timestamp!))?.offset ?? highWatermark;
      commits.push({ topic: stream.name, partition, offset, metadata: '', leaderEpoch: -1, commitTimestamp: now });
    }
    // Checked again after the awaits above: a consumer may have joined meanwhile.
    requireInactive(broker, id);
    // generation -1 and no member: the commit of a tool outside the group, which Kafka accepts for an empty group.
    const err = await broker.groups.commitOffsets(id, '', -1, null, commits);
    if (err === 'UNKNOWN_MEMBER_ID') throw new BrokerError('TRIB_GROUP_NOT_EMPTY', `consumer group '${id}' has live members; stop them first`);
    if (err !== 'NONE') throw new ApiError('TRIB_HTTP_INTERNAL', `the coordinator refused the commit: ${err}`);
    return { offsets: commits.map((c) => ({ topic: c.topic, partition: c.partition, offset: c.offset })) };
  });

  app.delete('/api/groups/:id', async (req, reply) => {
    const { id } = parseInput(GroupParams, req.params, 'params');
    broker.check(principalOf(req), 'delete', 'group', id);
    const err = await broker.groups.deleteGroup(id);
    if (err === 'GROUP_ID_NOT_FOUND') throw new BrokerError('TRIB_GROUP_NOT_FOUND', `consumer group '${id}' does not exist`);
    if (err === 'NON_EMPTY_GROUP') throw new BrokerError('TRIB_GROUP_NOT_EMPTY', `consumer group '${id}' has live members; stop them first`);
    if (err !== 'NONE') throw new ApiError('TRIB_HTTP_INTERNAL', `the coordinator refused the delete: ${err}`);
    return reply.code(204).send();
  });
}
