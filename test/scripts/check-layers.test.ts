import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

function checkLayers(srcDir: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, ['scripts/check-layers.mjs', srcDir], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: r.stdout + r.stderr };
}

test('src/ follows the layer rule', () => {
  const { status, output } = checkLayers('src');
  assert.equal(status, 0, output);
});

test('the checker reports each import that breaks the layer rule, and only those', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-layers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'wire/reader.ts': "import { x } from './varint.js';\nimport type { Log } from '../storage/log.js';\n",
    'wire/varint.ts': 'export const x = 1;\n',
    'storage/log.ts': "import { x } from '../wire/varint.js';\nexport * from '../core/stream.js';\nexport type Log = number;\n",
    'storage/record-batch.ts': 'export const b = 1;\n',
    'core/stream.ts': "import { x } from '../wire/varint.js';\nimport type { Log } from '../storage/log.js';\n// import '../server/config.js' in a comment is not an import\n",
    'protocols/kafka/codec/frame.ts':
      "import { x } from '../../../wire/varint.js';\nimport { b } from '../../../storage/record-batch.js';\nimport { y } from './schema.js';\nimport type { Log } from '../../../storage/log.js';\nimport { s } from '../session.js';\n",
    'protocols/kafka/codec/schema.ts': 'export const y = 1;\n',
    'protocols/kafka/session.ts':
      "import { y } from './codec/schema.js';\nimport '../../core/stream.js';\nconst c = await import('../../server/config.js');\nimport { m } from '../mqtt/session.js';\n",
    'protocols/mqtt/session.ts': 'export const m = 1;\n',
    'server/config.ts': "import '../core/stream.js';\nimport '../protocols/kafka/session.js';\nimport '../cli/main.js';\n",
    'cli/main.ts': "import '../server/config.js';\nimport { Command } from 'commander';\n",
  };
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const { status, output } = checkLayers(dir);
  assert.equal(status, 1, output);
  const reported = output.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim().split(' — ')[0]);
  assert.deepEqual(reported.sort(), [
    "protocols/kafka/codec/frame.ts: imports '../../../storage/log.js'",
    "protocols/kafka/codec/frame.ts: imports '../session.js'",
    "protocols/kafka/session.ts: imports '../../server/config.js'",
    "protocols/kafka/session.ts: imports '../mqtt/session.js'",
    "server/config.ts: imports '../cli/main.js'",
    "storage/log.ts: imports '../core/stream.js'",
    "wire/reader.ts: imports '../storage/log.js'",
  ]);
});
