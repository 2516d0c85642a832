/**
 * GroupCoordinator: every classic consumer group of this broker (one node coordinates all groups) and their
 * committed offsets. Groups live in memory (membership is soft state: clients rejoin after a restart, as with
 * Kafka's coordinator failover); offsets are durable in `__consumer_offsets` (OffsetStore).
 *
 * Concurrency: one Node thread. Joins and syncs answer through callbacks (they wait for other members).
 */
import type { Broker } from '../broker.js';
import { ConsumerGroup, type ConsumerGroupOptions, type GroupDescription, type GroupErrorName, type GroupState } from './consumer-group.js';
import { OffsetStore, type CommittedOffset, type OffsetCommitInput } from './offset-store.js';

export interface GroupListing {
  groupId: string;
  protocolType: string;
  state: GroupState;
}

export class GroupCoordinator {
  private readonly groups = new Map<string, ConsumerGroup>();
  private closed = false;

  private constructor(
    readonly offsets: OffsetStore,
    private readonly groupOptions: ConsumerGroupOptions,
  ) {}

  /** Opens the offset store (creating `__consumer_offsets` on first use) and replays it. */
  static async open(broker: Broker, groupOptions: ConsumerGroupOptions = {}): Promise<GroupCoordinator> {
    return new GroupCoordinator(await OffsetStore.open(broker), groupOptions);
  }

  /** The group, if it exists in memory. */
  group(groupId: string): ConsumerGroup | undefined {
    return this.groups.get(groupId);
  }

  /** The group, created Empty when missing (JoinGroup). */
  getOrCreate(groupId: string): ConsumerGroup {
    let g = this.groups.get(groupId);
    if (g === undefined || g.state === 'Dead') {
      g = new ConsumerGroup(groupId, this.groupOptions);
      this.groups.set(groupId, g);
    }
    return g;
  }

  /**
   * Commits offsets after the group's checks (member, generation, state). Returns the group error, or NONE
   * once every offset is durable.
   */
  async commitOffsets(groupId: string, memberId: string, generationId: number, groupInstanceId: string | null, commits: OffsetCommitInput[]): Promise<GroupErrorName> {
    if (this.closed) return 'COORDINATOR_NOT_AVAILABLE';
    const group = this.groups.get(groupId);
    if (group !== undefined) {
      const err = group.validateCommit(memberId, generationId, groupInstanceId);
      if (err !== 'NONE') return err;
    } else if (generationId >= 0) {
      // A generation names a group this coordinator does not know (e.g. after a restart): rejoin first.
      return 'ILLEGAL_GENERATION';
    }
    await this.offsets.commit(groupId, commits);
    return 'NONE';
  }

  committed(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(groupId, topic, partition);
  }

  /** Groups in memory plus groups that exist only through their committed offsets (state Empty). */
  list(): GroupListing[] {
    const out = new Map<string, GroupListing>();
    for (const g of this.groups.values()) {
      if (g.state === 'Dead') continue;
      out.set(g.groupId, { groupId: g.groupId, protocolType: g.protocolType ?? 'consumer', state: g.state });
    }
    for (const id of this.offsets.groupIds()) if (!out.has(id)) out.set(id, { groupId: id, protocolType: 'consumer', state: 'Empty' });
    return [...out.values()];
  }

  /** DescribeGroups: a group with no members and no offsets is reported Dead, as Kafka does. */
  describe(groupId: string): GroupDescription {
    const g = this.groups.get(groupId);
    if (g !== undefined) return g.describe();
    const known = this.offsets.groupIds().includes(groupId);
    return { groupId, state: known ? 'Empty' : 'Dead', protocolType: known ? 'consumer' : '', protocolName: '', members: [] };
  }

  /** DeleteGroups: only an empty group; its offsets go too. */
  async deleteGroup(groupId: string): Promise<GroupErrorName> {
    const g = this.groups.get(groupId);
    const hasOffsets = this.offsets.groupIds().includes(groupId);
    if (g === undefined && !hasOffsets) return 'GROUP_ID_NOT_FOUND';
    if (g !== undefined && g.memberCount > 0) return 'NON_EMPTY_GROUP';
    g?.close('Dead');
    this.groups.delete(groupId);
    await this.offsets.deleteGroup(groupId);
    return 'NONE';
  }

  /** Stops every group's timers; waiting members are answered COORDINATOR_NOT_AVAILABLE. */
  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) g.close('Dead');
    this.groups.clear();
  }
}
