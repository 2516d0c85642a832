/**
 * Property: under random interleavings of feeding, attach/detach, delivery, ack, ackUpTo, nack, reject,
 * ack-wait expiry, pause/resume and dead-letter completion, in every dispatch mode, no offset is lost or
 * settled twice: at the end every offset is acked exactly once by a consumer, dead-lettered exactly once,
 * or skipped by the filter — never two of these. In key-shared mode, a record is never delivered while an
 * earlier record of its key is unsettled and not in flight on the same consumer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { DispatchMode } from '../../../src/core/cursor/dispatch.js';
import { Harness, rec } from './harness.js';
import type { Record } from '../../../src/storage/record-batch.js';

type Op =
  | { k: 'feed'; n: number }
  | { k: 'attach'; id: number; prefetch: number; priority: number }
  | { k: 'detach'; id: number }
  | { k: 'pump' }
  | { k: 'ack'; pick: number }
  | { k: 'ackUpTo'; pick: number; own: boolean }
  | { k: 'nack'; pick: number; requeue: boolean }
  | { k: 'advance'; ms: number }
  | { k: 'completeDl'; pick: number }
  | { k: 'pause'; id: number; paused: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('feed' as const), n: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('attach' as const), id: fc.integer({ min: 0, max: 3 }), prefetch: fc.integer({ min: 0, max: 3 }), priority: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('detach' as const), id: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('pump' as const) }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('ack' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('ackUpTo' as const), pick: fc.nat(), own: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('nack' as const), pick: fc.nat(), requeue: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 250 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('completeDl' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('pause' as const), id: fc.integer({ min: 0, max: 3 }), paused: fc.boolean() }) },
);

const configArb = fc.record({
  mode: fc.constantFrom<DispatchMode>('exclusive', 'failover', 'shared', 'key-shared'),
  total: fc.integer({ min: 1, max: 40 }),
  ackWaitMs: fc.constantFrom(0, 100),
  backoff: fc.boolean(),
  maxDeliveries: fc.constantFrom(0, 2, 3),
  seed: fc.integer({ min: 0, max: 1_000_000 }),
  maxHeld: fc.constantFrom(2, 1000),
});

test('property: random interleavings never lose an offset or settle one twice', () => {
  fc.assert(
    fc.property(configArb, fc.array(opArb, { minLength: 10, maxLength: 150, size: 'max' }), (cfg, ops) => {
      // Deterministic per-record traits from the seed: key, filter match, TTL.
      const trait = (o: number, salt: number): number => ((o + 1) * 2654435761 + cfg.seed * 97 + salt * 7919) % 1000;
      const keyOf = (o: number): string | null => (trait(o, 1) % 5 === 0 ? null : `k${trait(o, 2) % 4}`);
      const matchesOffset = (o: number): boolean => trait(o, 3) % 7 !== 0;
      const ttlOffset = (o: number): boolean => trait(o, 4) % 11 === 0;
      const start = 1_000_000; // ManualClock's default start
      const h: Harness = new Harness(cfg.mode, {
        ackWaitMs: cfg.ackWaitMs,
        backoffMs: cfg.backoff ? [50, 150] : undefined,
        maxDeliveries: cfg.maxDeliveries,
        maxHeldRecords: cfg.maxHeld,
        matches: (r: Record) => matchesOffset(r.offset),
        // Records flagged for TTL expire 200 ms after the test starts.
        isExpired: (r: Record, now: number): boolean => ttlOffset(r.offset) && now >= start + 200,
      });
      assert.equal(h.clock.now(), start);
      h.autoCompleteDeadLetters = false;
      const ackedByConsumer = new Set<number>();
      const deadLettered = new Set<number>();
      const dlOutstanding: number[] = [];
      const consumers = new Map<number, ReturnType<Harness['attach']>>();
      let fed = 0;

      h.onDeliver = (c, d) => {
        assert.ok(matchesOffset(d.offset), `offset ${d.offset} does not match the filter but was delivered`);
        assert.ok(!ackedByConsumer.has(d.offset) && !deadLettered.has(d.offset), `offset ${d.offset} delivered after being settled`);
        assert.ok(!h.state.isAcked(0, d.offset));
        if (cfg.mode === 'key-shared') {
          const k = keyOf(d.offset);
          for (let o = 0; o < d.offset; o++) {
            if (keyOf(o) !== k || h.state.isAcked(0, o) || deadLettered.has(o)) continue;
            const l = h.state.levels[0];
            if (l.deadLettering.has(o)) continue;
            const e = l.inFlight.get(o);
            assert.ok(e !== undefined && e.consumer === c, `key ${k}: offset ${d.offset} delivered while ${o} is unsettled elsewhere`);
          }
        }
      };
      const origDeadLetter = h.deadLetter.bind(h);
      h.deadLetter = (d) => {
        assert.ok(!deadLettered.has(d.offset), `offset ${d.offset} dead-lettered twice`);
        assert.ok(!ackedByConsumer.has(d.offset), `offset ${d.offset} dead-lettered after an ack`);
        deadLettered.add(d.offset);
        dlOutstanding.push(d.offset);
        origDeadLetter(d);
      };
      const inFlight = (): number[] => [...h.state.levels[0].inFlight.keys()];
      const ack = (o: number): void => {
        const ok = h.state.ack(0, o);
        if (ok) {
          assert.ok(!ackedByConsumer.has(o), `offset ${o} acked twice`);
          assert.ok(!deadLettered.has(o), `offset ${o} acked after dead-lettering`);
          ackedByConsumer.add(o);
        }
      };

      for (const op of ops) {
        switch (op.k) {
          case 'feed': {
            const n = Math.min(op.n, cfg.total - fed);
            const batch: Record[] = [];
            for (let i = 0; i < n; i++, fed++) batch.push(rec(fed, { key: keyOf(fed) }));
            if (n > 0) h.feed(0, batch);
            break;
          }
          case 'attach':
            if (!consumers.has(op.id)) {
              try {
                consumers.set(op.id, h.attach(`c${op.id}`, op.prefetch, { priority: op.priority }));
              } catch (err) {
                assert.equal(cfg.mode, 'exclusive');
                assert.equal((err as { code?: string }).code, 'TRIB_CONSUMER_EXCLUSIVE');
              }
            }
            break;
          case 'detach': {
            const c = consumers.get(op.id);
            if (c !== undefined) {
              consumers.delete(op.id);
              h.state.detach(c);
            }
            break;
          }
          case 'pump':
            h.pump();
            break;
          case 'ack': {
            const f = inFlight();
            if (f.length > 0) ack(f[op.pick % f.length]);
            break;
          }
          case 'ackUpTo': {
            const f = inFlight();
            if (f.length === 0) break;
            const target = f[op.pick % f.length];
            const owner = h.state.levels[0].inFlight.get(target)!.consumer ?? undefined;
            const covered = [...h.state.levels[0].inFlight.values()].filter((e) => e.offset <= target && (!op.own || e.consumer === owner)).map((e) => e.offset);
            h.state.ackUpTo(0, target, op.own ? owner : undefined);
            for (const o of covered) {
              assert.ok(!ackedByConsumer.has(o) && !deadLettered.has(o));
              ackedByConsumer.add(o);
            }
            break;
          }
          case 'nack': {
            const f = inFlight();
            if (f.length > 0) h.state.nack(0, f[op.pick % f.length], op.requeue, h);
            break;
          }
          case 'advance':
            h.clock.advance(op.ms);
            break;
          case 'completeDl':
            if (dlOutstanding.length > 0) {
              const [o] = dlOutstanding.splice(op.pick % dlOutstanding.length, 1);
              h.state.completeDeadLetter(0, o);
            }
            break;
          case 'pause': {
            const c = consumers.get(op.id);
            if (c !== undefined) c.paused = op.paused;
            break;
          }
        }
      }

      // Drain: everything fed, all dead-letters completed, one fresh consumer acks until quiescent.
      const rest: Record[] = [];
      for (; fed < cfg.total; fed++) rest.push(rec(fed, { key: keyOf(fed) }));
      if (rest.length > 0) h.feed(0, rest);
      for (const c of consumers.values()) h.state.detach(c);
      h.attach('drain');
      for (let round = 0; round < 100; round++) {
        h.pump();
        for (const o of inFlight()) ack(o);
        for (const o of dlOutstanding.splice(0)) h.state.completeDeadLetter(0, o);
        if (h.state.levels[0].acks.floor === cfg.total) break;
      }
      assert.equal(h.state.levels[0].acks.floor, cfg.total, 'every offset is settled');
      assert.equal(h.state.inFlightCount + h.state.pendingCount + h.state.deadLetteringCount, 0);
      for (let o = 0; o < cfg.total; o++) {
        const ways = (ackedByConsumer.has(o) ? 1 : 0) + (deadLettered.has(o) ? 1 : 0) + (matchesOffset(o) ? 0 : 1);
        assert.equal(ways, 1, `offset ${o} settled ${ways} ways`);
      }
      for (const c of h.state.dispatch.consumers) assert.equal(c.unackedCount, 0, 'credit is fully returned');
    }),
    { numRuns: 400 },
  );
});
