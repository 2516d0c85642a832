import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from '../../../src/core/router/router.js';
import type { Message } from '../../../src/core/message.js';

function msg(subject: string): Message {
  return { subject, key: null, value: Buffer.from('v'), headers: [], timestamp: 0 };
}

test('deliverLive reaches matching live subscriptions and queue groups but never a capture', () => {
  const router = new Router({ random: () => 0 });
  const got: string[] = [];
  let captured = 0;
  router.addCapture('a.>', { capture: () => captured++ });
  router.subscribe('a.*', (m) => got.push(`plain ${m.subject}`));
  router.subscribe('a.>', (m) => got.push(`g1 ${m.subject}`), { queueGroup: 'g' });
  router.subscribe('a.>', (m) => got.push(`g2 ${m.subject}`), { queueGroup: 'g' });
  assert.equal(router.deliverLive(msg('a.b')), 2);
  assert.equal(captured, 0);
  assert.equal(got.length, 2);
  assert.equal(got[0], 'plain a.b');
  assert.match(got[1], /^g[12] a\.b$/);
  assert.equal(router.deliverLive(msg('x.y')), 0);
  assert.equal(router.publish(msg('a.c')), 2);
  assert.equal(captured, 1);
});
