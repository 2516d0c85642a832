/** publish and subscribe verbs run as the built binary against `tributary serve`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCli } from './cli-runner.js';
import { useServedBroker } from './served-broker.js';

const broker = useServedBroker();
const cli = broker.cli;

test('publish reaches a running subscribe, which exits after --count', async () => {
  const sub = startCli(['subscribe', 'cli.sensors.>', '--count', '2', '--format', 'json', '--url', broker.url], /subscribed to cli\.sensors\.>/);
  try {
    await sub.ready;
    const first = await cli(['publish', 'cli.sensors.kitchen', '21.5', '--header', 'unit=C']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /published to cli\.sensors\.kitchen: 1 live delivery/);
    assert.equal((await cli(['publish', 'cli.sensors.hall', '19'])).code, 0);
    const result = await sub.done;
    assert.equal(result.code, 0, result.stderr);
    const messages = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { subject: string; value: string; headers: Array<{ key: string; value: string }> });
    assert.deepEqual(messages.map((m) => [m.subject, m.value]), [['cli.sensors.kitchen', '21.5'], ['cli.sensors.hall', '19']]);
    assert.deepEqual(messages[0]!.headers.find((h) => h.key === 'unit')?.value, 'C');
  } finally {
    sub.kill();
  }
});
