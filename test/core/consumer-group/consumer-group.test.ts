import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsumerGroup, type GroupTimers, type JoinRequest, type JoinResult, type SyncResult } from '../../../src/core/consumer-group/index.js';

/** Timers driven by hand: advance(ms) fires whatever is due, in order. */
class ManualTimers implements GroupTimers {
  now = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
      if (next === undefined) break;
      this.pending.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = end;
  }
}

const proto = (name: string, data = name) => ({ name, metadata: Buffer.from(data) });

function req(extra: Partial<JoinRequest> = {}): JoinRequest {
  return { memberId: '', groupInstanceId: null, clientId: 'c', clientHost: '/127.0.0.1', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 5_000, protocolType: 'consumer', protocols: [proto('range')], ...extra };
}

function join(g: ConsumerGroup, r: JoinRequest): { result: JoinResult | null } {
  const box: { result: JoinResult | null } = { result: null };
  g.join(r, (res) => (box.result = res));
  return box;
}

function sync(g: ConsumerGroup, memberId: string, generationId: number, assignments: Array<{ memberId: string; assignment: Buffer }> = []): { result: SyncResult | null } {
  const box: { result: SyncResult | null } = { result: null };
  g.sync({ memberId, generationId, groupInstanceId: null, protocolType: null, protocolName: null, assignments }, (res) => (box.result = res));
  return box;
}

function setup(): { timers: ManualTimers; g: ConsumerGroup } {
  const timers = new ManualTimers();
  return { timers, g: new ConsumerGroup('g', { timers, minSessionTimeoutMs: 1000 }) };
}

test('a single member joins, becomes leader, syncs its own assignment and is Stable', () => {
  const { g } = setup();
  const a = join(g, req());
  assert.equal(a.result?.error, 'NONE');
  assert.equal(a.result?.generationId, 1);
  assert.equal(a.result?.leader, a.result?.memberId);
  assert.equal(a.result?.members.length, 1);
  assert.equal(g.state, 'CompletingRebalance');
  const s = sync(g, a.result!.memberId, 1, [{ memberId: a.result!.memberId, assignment: Buffer.from('all') }]);
  assert.equal(s.result?.assignment.toString(), 'all');
  assert.equal(g.state, 'Stable');
});

test('a second member triggers a rebalance that completes when the first rejoins; only the leader gets member metadata', () => {
  const { g } = setup();
  const a = join(g, req({ clientId: 'a' }));
  const idA = a.result!.memberId;
  sync(g, idA, 1, [{ memberId: idA, assignment: Buffer.from('x') }]);
  const b = join(g, req({ clientId: 'b' }));
  assert.equal(b.result === null, true, 'waits for a to rejoin');
  assert.equal(g.state, 'PreparingRebalance');
  assert.equal(g.heartbeat(idA, 1, null), 'REBALANCE_IN_PROGRESS');
  const a2 = join(g, req({ memberId: idA }));
  assert.equal(a2.result?.generationId, 2);
  assert.equal(b.result?.generationId, 2);
  assert.equal(a2.result?.leader, idA, 'the leader stays leader');
  assert.equal(a2.result?.members.length, 2);
  assert.equal(b.result?.members.length, 0);
  const idB = b.result!.memberId;
  const sb = sync(g, idB, 2);
  assert.equal(sb.result === null, true, 'a follower waits for the leader');
  const sa = sync(g, idA, 2, [
    { memberId: idA, assignment: Buffer.from('p0') },
    { memberId: idB, assignment: Buffer.from('p1') },
  ]);
  assert.equal(sa.result?.assignment.toString(), 'p0');
  assert.equal(sb.result?.assignment.toString(), 'p1');
  assert.equal(sync(g, idA, 1).result?.error, 'ILLEGAL_GENERATION');
});

test('a member that does not rejoin within the rebalance timeout is removed', () => {
  const { g, timers } = setup();
  const a = join(g, req());
  const idA = a.result!.memberId;
  sync(g, idA, 1, [{ memberId: idA, assignment: Buffer.alloc(0) }]);
  const b = join(g, req({ rebalanceTimeoutMs: 3000 }));
  timers.advance(4999);
  assert.equal(b.result === null, true);
  timers.advance(1);
  assert.equal(b.result?.error, 'NONE');
  assert.equal(b.result?.members.length, 1, 'b leads alone');
  assert.equal(g.heartbeat(idA, 2, null), 'UNKNOWN_MEMBER_ID');
});

test('session expiry removes a silent member and rebalances; leaving does too; the last leave empties the group', () => {
  const { g, timers } = setup();
  const a = join(g, req({ sessionTimeoutMs: 2000 }));
  const idA = a.result!.memberId;
  sync(g, idA, 1, [{ memberId: idA, assignment: Buffer.alloc(0) }]);
  timers.advance(1500);
  assert.equal(g.heartbeat(idA, 1, null), 'NONE');
  timers.advance(1999);
  assert.equal(g.state, 'Stable');
  timers.advance(1);
  assert.equal(g.state, 'Empty');
  assert.equal(g.memberCount, 0);
  const b = join(g, req());
  const c = join(g, req());
  assert.equal(b.result?.generationId, 3);
  // c joined after b's generation completed: it waits for b to rejoin.
  assert.equal(c.result === null, true);
  assert.equal(g.leave(b.result!.memberId, null), 'NONE');
  assert.equal(c.result?.error, 'NONE');
  assert.equal(c.result?.members.length, 1);
  assert.equal(g.leave(c.result!.memberId, null), 'NONE');
  assert.equal(g.state, 'Empty');
});

test('the protocol every member supports and most prefer is chosen; an incompatible member is refused', () => {
  const { g } = setup();
  const a = join(g, req({ protocols: [proto('roundrobin'), proto('range')] }));
  assert.equal(a.result?.protocolName, 'roundrobin');
  const b = join(g, req({ protocols: [proto('range')] }));
  const a2 = join(g, req({ memberId: a.result!.memberId, protocols: [proto('roundrobin'), proto('range')] }));
  assert.equal(a2.result?.protocolName, 'range');
  assert.equal(b.result?.protocolName, 'range');
  assert.equal(join(g, req({ protocols: [proto('sticky')] })).result?.error, 'INCONSISTENT_GROUP_PROTOCOL');
  assert.equal(join(g, req({ protocolType: 'connect' })).result?.error, 'INCONSISTENT_GROUP_PROTOCOL');
});

test('a static member rejoining with an unknown member id takes over its slot without a rebalance and fences the old id', () => {
  const { g } = setup();
  const a = join(g, req({ groupInstanceId: 'host-1' }));
  const oldId = a.result!.memberId;
  sync(g, oldId, 1, [{ memberId: oldId, assignment: Buffer.from('mine') }]);
  const again = join(g, req({ groupInstanceId: 'host-1' }));
  assert.equal(again.result?.error, 'NONE');
  assert.equal(again.result?.generationId, 1, 'no new generation');
  assert.notEqual(again.result?.memberId, oldId);
  assert.equal(g.state, 'Stable');
  assert.equal(sync(g, again.result!.memberId, 1).result?.assignment.toString(), 'mine');
  assert.equal(g.heartbeat(oldId, 1, 'host-1'), 'UNKNOWN_MEMBER_ID');
  assert.equal(g.leave('', 'host-1'), 'NONE');
  assert.equal(g.state, 'Empty');
});

test('session timeouts outside the configured bounds are refused; commits are checked against member and generation', () => {
  const { g } = setup();
  assert.equal(join(g, req({ sessionTimeoutMs: 10 })).result?.error, 'INVALID_SESSION_TIMEOUT');
  assert.equal(g.validateCommit('', -1, null), 'NONE', 'no members: a simple commit is allowed');
  const a = join(g, req());
  const id = a.result!.memberId;
  assert.equal(g.validateCommit(id, 1, null), 'REBALANCE_IN_PROGRESS');
  sync(g, id, 1, [{ memberId: id, assignment: Buffer.alloc(0) }]);
  assert.equal(g.validateCommit(id, 1, null), 'NONE');
  assert.equal(g.validateCommit(id, 0, null), 'ILLEGAL_GENERATION');
  assert.equal(g.validateCommit('nobody', 1, null), 'UNKNOWN_MEMBER_ID');
  assert.equal(g.validateCommit('', -1, null), 'UNKNOWN_MEMBER_ID');
  g.close();
  assert.equal(g.state, 'Dead');
});
