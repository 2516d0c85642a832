/**
 * ConsumerGroup: the classic (pre-KIP-848) group membership state machine of one Kafka consumer group, as the
 * Apache Kafka GroupCoordinator runs it. Pure state plus injected timers: no sockets, no storage, no Kafka bytes
 * (protocol metadata and assignments are opaque Buffers handed between members).
 *
 * States:
 *   Empty               no members (offsets may still exist)
 *   PreparingRebalance  waiting for every known member to (re)join, at most the largest rebalance timeout
 *   CompletingRebalance joins answered (new generation, leader chosen); waiting for the leader's SyncGroup
 *   Stable              assignments handed out; heartbeats keep members alive
 *   Dead                group removed (DeleteGroups)
 *
 * Rules followed (Kafka's GroupCoordinator): a join by a new member, a leader's rejoin, or a member changing its
 * protocols starts a rebalance; leave and session expiry remove the member and start one; members that do not
 * rejoin before the rebalance timeout are removed; the protocol chosen is the one every member supports that
 * most members prefer; the leader stays leader while it remains a member; a static member (group.instance.id)
 * that rejoins with an unknown member id takes over its old slot — its old member id is fenced — without a
 * rebalance when its protocols are unchanged.
 *
 * Errors are Kafka's error names (strings), so the protocol layer maps them one to one and the core never
 * carries Kafka's numbers.
 *
 * Concurrency: one Node thread; every method runs to completion. Waiters (join/sync) are callbacks resolved
 * exactly once: with a result, or with an error when the member is removed or a new rebalance starts.
 */
import { randomUUID } from 'node:crypto';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export type GroupErrorName =
  | 'NONE'
  | 'UNKNOWN_MEMBER_ID'
  | 'ILLEGAL_GENERATION'
  | 'REBALANCE_IN_PROGRESS'
  | 'INCONSISTENT_GROUP_PROTOCOL'
  | 'INVALID_SESSION_TIMEOUT'
  | 'FENCED_INSTANCE_ID'
  | 'COORDINATOR_NOT_AVAILABLE'
  | 'GROUP_ID_NOT_FOUND'
  | 'NON_EMPTY_GROUP'
  | 'INVALID_GROUP_ID';

/** Timers injected so tests drive time by hand. */
export interface GroupTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const REAL_TIMERS: GroupTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinRequest {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
}

export interface JoinResult {
  error: GroupErrorName;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  /** Every member's metadata for the chosen protocol; only the leader gets it. */
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncRequest {
  memberId: string;
  generationId: number;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

export interface SyncResult {
  error: GroupErrorName;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface MemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  metadata: Buffer;
  assignment: Buffer;
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  protocolType: string;
  protocolName: string;
  members: MemberDescription[];
}

interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  assignment: Buffer;
  joinWaiter: ((r: JoinResult) => void) | null;
  syncWaiter: ((r: SyncResult) => void) | null;
  sessionTimer: unknown;
}

export interface ConsumerGroupOptions {
  timers?: GroupTimers;
  minSessionTimeoutMs?: number;
  maxSessionTimeoutMs?: number;
  /** Kafka's group.initial.rebalance.delay.ms: extra wait when an empty group starts its first rebalance. */
  initialRebalanceDelayMs?: number;
  /** Called when the group becomes Empty with no members (the coordinator may forget it). */
  onEmpty?: (group: ConsumerGroup) => void;
}

const EMPTY = Buffer.alloc(0);

export class ConsumerGroup {
  private _state: GroupState = 'Empty';
  private _generationId = 0;
  private _protocolType: string | null = null;
  private _protocolName: string | null = null;
  private leaderId: string | null = null;
  private readonly members = new Map<string, Member>();
  private readonly staticMembers = new Map<string, string>();
  private rebalanceTimer: unknown = null;
  private readonly timers: GroupTimers;
  private readonly minSessionTimeoutMs: number;
  private readonly maxSessionTimeoutMs: number;
  private readonly initialRebalanceDelayMs: number;

  constructor(
    readonly groupId: string,
    private readonly options: ConsumerGroupOptions = {},
  ) {
    this.timers = options.timers ?? REAL_TIMERS;
    this.minSessionTimeoutMs = options.minSessionTimeoutMs ?? 6000;
    this.maxSessionTimeoutMs = options.maxSessionTimeoutMs ?? 1_800_000;
    this.initialRebalanceDelayMs = options.initialRebalanceDelayMs ?? 0;
  }

  get state(): GroupState {
    return this._state;
  }
  get generationId(): number {
    return this._generationId;
  }
  get protocolType(): string | null {
    return this._protocolType;
  }
  get memberCount(): number {
    return this.members.size;
  }
  get leader(): string | null {
    return this.leaderId;
  }
  hasMember(memberId: string): boolean {
    return this.members.has(memberId);
  }

  // --- JoinGroup ---------------------------------------------------------------------------------------------

  join(req: JoinRequest, respond: (r: JoinResult) => void): void {
    const fail = (error: GroupErrorName, memberId = req.memberId): void =>
      respond({ error, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] });
    if (this._state === 'Dead') return fail('COORDINATOR_NOT_AVAILABLE');
    if (req.sessionTimeoutMs < this.minSessionTimeoutMs || req.sessionTimeoutMs > this.maxSessionTimeoutMs) return fail('INVALID_SESSION_TIMEOUT');
    if (req.protocols.length === 0 || req.protocolType === '') return fail('INCONSISTENT_GROUP_PROTOCOL');
    if (this.members.size > 0 && (req.protocolType !== this._protocolType || !this.supportsCandidate(req.protocols))) {
      // A known member changing to protocols nobody else supports is also refused (Kafka does the same).
      if (!(this.members.size === 1 && this.members.has(req.memberId))) return fail('INCONSISTENT_GROUP_PROTOCOL');
    }

    if (req.memberId === '') {
      const staticId = req.groupInstanceId !== null ? this.staticMembers.get(req.groupInstanceId) : undefined;
      if (staticId !== undefined) return this.rejoinStatic(staticId, req, respond);
      const memberId = `${req.clientId || 'member'}-${randomUUID()}`;
      const member = this.newMember(memberId, req);
      member.joinWaiter = respond;
      this.members.set(memberId, member);
      if (req.groupInstanceId !== null) this.staticMembers.set(req.groupInstanceId, memberId);
      this.scheduleSession(member);
      this.prepareRebalance();
      this.tryCompleteJoin();
      return;
    }

    const member = this.members.get(req.memberId);
    if (member === undefined) return fail('UNKNOWN_MEMBER_ID');
    if (req.groupInstanceId !== null && this.staticMembers.get(req.groupInstanceId) !== req.memberId) return fail('FENCED_INSTANCE_ID');
    const changed = !sameProtocols(member.protocols, req.protocols);
    this.updateMember(member, req);
    if (member.joinWaiter !== null) member.joinWaiter(this.errorJoin('REBALANCE_IN_PROGRESS', member.memberId));
    member.joinWaiter = respond;
    switch (this._state) {
      case 'PreparingRebalance':
        this.tryCompleteJoin();
        return;
      case 'CompletingRebalance':
      case 'Stable':
        if (!changed && !(this._state === 'Stable' && member.memberId === this.leaderId)) {
          // Nothing new: the current generation stands; answer as the last join did.
          member.joinWaiter = null;
          respond(this.joinResult(member));
          return;
        }
        this.prepareRebalance();
        this.tryCompleteJoin();
        return;
      default:
        this.prepareRebalance();
        this.tryCompleteJoin();
    }
  }

  private rejoinStatic(oldId: string, req: JoinRequest, respond: (r: JoinResult) => void): void {
    const old = this.members.get(oldId)!;
    const memberId = `${req.groupInstanceId}-${randomUUID()}`;
    const changed = !sameProtocols(old.protocols, req.protocols);
    // Fence the old id: its waiters learn it is gone.
    old.joinWaiter?.(this.errorJoin('FENCED_INSTANCE_ID', oldId));
    old.syncWaiter?.({ error: 'FENCED_INSTANCE_ID', protocolType: null, protocolName: null, assignment: EMPTY });
    this.timers.clearTimeout(old.sessionTimer);
    this.members.delete(oldId);
    const member = this.newMember(memberId, req);
    member.assignment = old.assignment;
    this.members.set(memberId, member);
    this.staticMembers.set(req.groupInstanceId!, memberId);
    if (this.leaderId === oldId) this.leaderId = memberId;
    this.scheduleSession(member);
    if (this._state === 'Stable' && !changed) {
      respond(this.joinResult(member));
      return;
    }
    member.joinWaiter = respond;
    this.prepareRebalance();
    this.tryCompleteJoin();
  }

  private newMember(memberId: string, req: JoinRequest): Member {
    return {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
      assignment: EMPTY,
      joinWaiter: null,
      syncWaiter: null,
      sessionTimer: null,
    };
  }

  private updateMember(member: Member, req: JoinRequest): void {
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.protocolType = req.protocolType;
    member.protocols = req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) }));
    this.scheduleSession(member);
  }

  private supportsCandidate(protocols: GroupProtocol[]): boolean {
    const candidates = this.candidateProtocols();
    return protocols.some((p) => candidates.has(p.name));
  }

  /** Protocols every current member supports. */
  private candidateProtocols(): Set<string> {
    let set = null as Set<string> | null;
    for (const m of this.members.values()) {
      const names = new Set(m.protocols.map((p) => p.name));
      set = set === null ? names : new Set<string>([...set].filter((n: string) => names.has(n)));
    }
    return set ?? new Set();
  }

  /** Each member votes for its most preferred candidate; most votes wins, ties by first seen. */
  private selectProtocol(): string | null {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => candidates.has(p.name));
      if (choice !== undefined) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let best: string | null = null;
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }

  private prepareRebalance(): void {
    if (this._state === 'PreparingRebalance') return;
    if (this._state === 'CompletingRebalance') {
      // The leader's assignment for the old generation is void: waiting syncs must rejoin.
      for (const m of this.members.values()) {
        if (m.syncWaiter !== null) {
          const w = m.syncWaiter;
          m.syncWaiter = null;
          w({ error: 'REBALANCE_IN_PROGRESS', protocolType: null, protocolName: null, assignment: EMPTY });
        }
      }
    }
    const wasEmpty = this._state === 'Empty';
    this._state = 'PreparingRebalance';
    let timeoutMs = 0;
    for (const m of this.members.values()) timeoutMs = Math.max(timeoutMs, m.rebalanceTimeoutMs);
    if (wasEmpty && this.initialRebalanceDelayMs > 0) timeoutMs = Math.min(timeoutMs, this.initialRebalanceDelayMs);
    this.rebalanceTimer = this.timers.setTimeout(() => this.onRebalanceTimeout(), timeoutMs);
    this.initialDelayPending = wasEmpty && this.initialRebalanceDelayMs > 0;
  }

  private initialDelayPending = false;

  private onRebalanceTimeout(): void {
    this.rebalanceTimer = null;
    if (this._state !== 'PreparingRebalance') return;
    this.initialDelayPending = false;
    // Members that did not rejoin in time are removed (Kafka: "did not rejoin before the rebalance timeout").
    for (const m of [...this.members.values()]) if (m.joinWaiter === null) this.removeMember(m, false);
    this.completeJoin();
  }

  private tryCompleteJoin(): void {
    if (this._state !== 'PreparingRebalance' || this.initialDelayPending) return;
    for (const m of this.members.values()) if (m.joinWaiter === null) return;
    this.completeJoin();
  }

  private completeJoin(): void {
    if (this.rebalanceTimer !== null) {
      this.timers.clearTimeout(this.rebalanceTimer);
      this.rebalanceTimer = null;
    }
    this.initialDelayPending = false;
    this._generationId++;
    if (this.members.size === 0) {
      this._state = 'Empty';
      this._protocolName = null;
      this.leaderId = null;
      this.options.onEmpty?.(this);
      return;
    }
    const first = this.members.values().next().value as Member;
    this._protocolType = first.protocolType;
    this._protocolName = this.selectProtocol();
    if (this.leaderId === null || !this.members.has(this.leaderId)) this.leaderId = first.memberId;
    this._state = 'CompletingRebalance';
    for (const m of this.members.values()) {
      m.assignment = EMPTY;
      const w = m.joinWaiter;
      m.joinWaiter = null;
      this.scheduleSession(m);
      w?.(this.joinResult(m));
    }
  }

  private joinResult(m: Member): JoinResult {
    const isLeader = m.memberId === this.leaderId;
    return {
      error: 'NONE',
      generationId: this._generationId,
      protocolType: this._protocolType,
      protocolName: this._protocolName,
      leader: this.leaderId ?? '',
      memberId: m.memberId,
      members: isLeader
        ? [...this.members.values()].map((x) => ({
            memberId: x.memberId,
            groupInstanceId: x.groupInstanceId,
            metadata: x.protocols.find((p) => p.name === this._protocolName)?.metadata ?? EMPTY,
          }))
        : [],
    };
  }

  private errorJoin(error: GroupErrorName, memberId: string): JoinResult {
    return { error, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] };
  }

  // --- SyncGroup ---------------------------------------------------------------------------------------------

  sync(req: SyncRequest, respond: (r: SyncResult) => void): void {
    const fail = (error: GroupErrorName): void => respond({ error, protocolType: null, protocolName: null, assignment: EMPTY });
    const member = this.members.get(req.memberId);
    if (member === undefined) return fail('UNKNOWN_MEMBER_ID');
    if (req.groupInstanceId !== null && this.staticMembers.get(req.groupInstanceId) !== req.memberId) return fail('FENCED_INSTANCE_ID');
    if (req.generationId !== this._generationId) return fail('ILLEGAL_GENERATION');
    if ((req.protocolType !== null && req.protocolType !== this._protocolType) || (req.protocolName !== null && req.protocolName !== this._protocolName)) {
      return fail('INCONSISTENT_GROUP_PROTOCOL');
    }
    switch (this._state) {
      case 'PreparingRebalance':
        return fail('REBALANCE_IN_PROGRESS');
      case 'Stable':
        this.scheduleSession(member);
        return respond(this.syncResult(member));
      case 'CompletingRebalance': {
        if (member.syncWaiter !== null) member.syncWaiter({ error: 'REBALANCE_IN_PROGRESS', protocolType: null, protocolName: null, assignment: EMPTY });
        member.syncWaiter = respond;
        this.scheduleSession(member);
        if (member.memberId === this.leaderId) {
          const byMember = new Map(req.assignments.map((a) => [a.memberId, a.assignment]));
          for (const m of this.members.values()) m.assignment = Buffer.from(byMember.get(m.memberId) ?? EMPTY);
          this._state = 'Stable';
          for (const m of this.members.values()) {
            const w = m.syncWaiter;
            m.syncWaiter = null;
            w?.(this.syncResult(m));
          }
        }
        return;
      }
      default:
        return fail('UNKNOWN_MEMBER_ID');
    }
  }

  private syncResult(m: Member): SyncResult {
    return { error: 'NONE', protocolType: this._protocolType, protocolName: this._protocolName, assignment: m.assignment };
  }

  // --- Heartbeat / LeaveGroup --------------------------------------------------------------------------------

  heartbeat(memberId: string, generationId: number, groupInstanceId: string | null): GroupErrorName {
    const member = this.members.get(memberId);
    if (member === undefined) return 'UNKNOWN_MEMBER_ID';
    if (groupInstanceId !== null && this.staticMembers.get(groupInstanceId) !== memberId) return 'FENCED_INSTANCE_ID';
    if (generationId !== this._generationId) return 'ILLEGAL_GENERATION';
    this.scheduleSession(member);
    return this._state === 'PreparingRebalance' ? 'REBALANCE_IN_PROGRESS' : 'NONE';
  }

  /** A member leaves (LeaveGroup). `memberId` '' with a group instance id names a static member. */
  leave(memberId: string, groupInstanceId: string | null): GroupErrorName {
    let id = memberId;
    if (groupInstanceId !== null) {
      const current = this.staticMembers.get(groupInstanceId);
      if (current === undefined) return 'UNKNOWN_MEMBER_ID';
      if (id !== '' && id !== current) return 'FENCED_INSTANCE_ID';
      id = current;
    }
    const member = this.members.get(id);
    if (member === undefined) return 'UNKNOWN_MEMBER_ID';
    this.removeMember(member, true);
    return 'NONE';
  }

  /** Whether `memberId` at `generationId` may commit offsets now (OffsetCommit's group checks). */
  validateCommit(memberId: string, generationId: number, groupInstanceId: string | null): GroupErrorName {
    if (generationId < 0 && memberId === '') {
      // A commit from outside the group protocol (admin tools, manual assignment): allowed while nobody is in.
      return this.members.size === 0 ? 'NONE' : 'UNKNOWN_MEMBER_ID';
    }
    const member = this.members.get(memberId);
    if (member === undefined) return 'UNKNOWN_MEMBER_ID';
    if (groupInstanceId !== null && this.staticMembers.get(groupInstanceId) !== memberId) return 'FENCED_INSTANCE_ID';
    if (generationId !== this._generationId) return 'ILLEGAL_GENERATION';
    if (this._state === 'CompletingRebalance') return 'REBALANCE_IN_PROGRESS';
    this.scheduleSession(member);
    return 'NONE';
  }

  private scheduleSession(member: Member): void {
    if (member.sessionTimer !== null) this.timers.clearTimeout(member.sessionTimer);
    member.sessionTimer = this.timers.setTimeout(() => this.onSessionExpired(member), member.sessionTimeoutMs);
  }

  private onSessionExpired(member: Member): void {
    member.sessionTimer = null;
    if (this.members.get(member.memberId) !== member) return;
    // A member waiting for a join or sync answer is alive by definition (Kafka's shouldKeepMemberAlive).
    if (member.joinWaiter !== null || member.syncWaiter !== null) {
      this.scheduleSession(member);
      return;
    }
    this.removeMember(member, true);
  }

  private removeMember(member: Member, rebalance: boolean): void {
    this.timers.clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
    this.members.delete(member.memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === member.memberId) this.staticMembers.delete(member.groupInstanceId);
    if (member.joinWaiter !== null) member.joinWaiter(this.errorJoin('UNKNOWN_MEMBER_ID', member.memberId));
    if (member.syncWaiter !== null) member.syncWaiter({ error: 'UNKNOWN_MEMBER_ID', protocolType: null, protocolName: null, assignment: EMPTY });
    member.joinWaiter = null;
    member.syncWaiter = null;
    if (this.leaderId === member.memberId) this.leaderId = null;
    if (!rebalance) return;
    if (this._state === 'Stable' || this._state === 'CompletingRebalance') {
      this.prepareRebalance();
      this.tryCompleteJoin();
    } else if (this._state === 'PreparingRebalance') {
      if (this.members.size === 0) this.completeJoin();
      else this.tryCompleteJoin();
    }
  }

  // --- description and lifecycle -----------------------------------------------------------------------------

  describe(): GroupDescription {
    const stable = this._state === 'Stable';
    return {
      groupId: this.groupId,
      state: this._state,
      protocolType: this._protocolType ?? '',
      protocolName: stable || this._state === 'CompletingRebalance' ? (this._protocolName ?? '') : '',
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? (m.protocols.find((p) => p.name === this._protocolName)?.metadata ?? EMPTY) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  /** Removes every member (answering waiters with COORDINATOR_NOT_AVAILABLE) and stops all timers. */
  close(state: GroupState = 'Dead'): void {
    if (this.rebalanceTimer !== null) this.timers.clearTimeout(this.rebalanceTimer);
    this.rebalanceTimer = null;
    for (const m of this.members.values()) {
      this.timers.clearTimeout(m.sessionTimer);
      m.joinWaiter?.(this.errorJoin('COORDINATOR_NOT_AVAILABLE', m.memberId));
      m.syncWaiter?.({ error: 'COORDINATOR_NOT_AVAILABLE', protocolType: null, protocolName: null, assignment: EMPTY });
    }
    this.members.clear();
    this.staticMembers.clear();
    this._state = state;
  }
}

function sameProtocols(a: GroupProtocol[], b: GroupProtocol[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].name !== b[i].name || !a[i].metadata.equals(b[i].metadata)) return false;
  return true;
}
