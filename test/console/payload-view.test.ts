// The console's pure browser modules (payload rendering, rates from cumulative counters), loaded from their
// compiled output in dist/console/ — they are built by console/tsconfig.json, not by this test's tsconfig.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const consoleDir = new URL('../../console/', import.meta.url);

interface PayloadView {
  hexDump(bytes: Uint8Array): string;
  renderPayload(value: string | null, encoding: 'text' | 'base64' | null, mode: 'auto' | 'text' | 'json' | 'hex'): string;
  previewPayload(value: string | null, encoding: 'text' | 'base64' | null, max?: number): string;
}
interface RateSeriesModule {
  RateSeries: new (keys: readonly string[], capacity?: number) => {
    times: number[];
    rates: Record<string, number[]>;
    push(t: number, v: Record<string, number>): boolean;
    latest(k: string): number;
  };
}

const view = (): Promise<PayloadView> => import(new URL('payload-view.js', consoleDir).href) as Promise<PayloadView>;
const rates = (): Promise<RateSeriesModule> => import(new URL('rate-series.js', consoleDir).href) as Promise<RateSeriesModule>;

test('binary payloads get a 16-byte-a-line hex dump with printable ASCII', async () => {
  const { hexDump, renderPayload } = await view();
  const bytes = Uint8Array.from([...Buffer.from('Hello, Tributary!'), 0x00, 0xff]);
  assert.equal(
    hexDump(bytes),
    '00000000  48 65 6c 6c 6f 2c 20 54  72 69 62 75 74 61 72 79  |Hello, Tributary|\n' +
      '00000010  21 00 ff                                          |!..|',
  );
  // base64 from the API is binary: Auto shows the dump.
  assert.equal(renderPayload(Buffer.from([1, 2, 3]).toString('base64'), 'base64', 'auto'), '00000000  01 02 03' + ' '.repeat(42) + '|...|');
});

test('JSON text is pretty-printed in Auto, other text stays as sent', async () => {
  const { renderPayload, previewPayload } = await view();
  assert.equal(renderPayload('{"a":1,"b":[true]}', 'text', 'auto'), '{\n  "a": 1,\n  "b": [\n    true\n  ]\n}');
  assert.equal(renderPayload('{"a":1}', 'text', 'text'), '{"a":1}');
  assert.equal(renderPayload('42', 'text', 'auto'), '42');
  assert.equal(renderPayload('{not json', 'text', 'json'), '{not json');
  assert.equal(renderPayload(null, null, 'auto'), '(null — tombstone or no payload)');
  assert.equal(previewPayload('a\n  b', 'text'), 'a b');
  assert.equal(previewPayload(Buffer.from([0xde, 0xad]).toString('base64'), 'base64'), '⟨2 bytes⟩ de ad');
});

test('rates come from successive cumulative samples, and a counter reset charts zero, not a negative spike', async () => {
  const { RateSeries } = await rates();
  const r = new RateSeries(['in'], 3);
  assert.equal(r.push(1000, { in: 100 }), false, 'the first sample has no rate yet');
  r.push(3000, { in: 300 });
  assert.equal(r.latest('in'), 100);
  r.push(4000, { in: 50 });
  assert.equal(r.latest('in'), 0);
  r.push(5000, { in: 60 });
  r.push(6000, { in: 80 });
  assert.deepEqual(r.rates['in'], [0, 10, 20], 'bounded to capacity');
  assert.deepEqual(r.times, [4, 5, 6], 'x values in seconds for uPlot');
});
