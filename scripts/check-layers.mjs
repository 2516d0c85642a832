#!/usr/bin/env node
// Enforces the layer rule of DESIGN.md on import paths: a layer imports only from the layers below it.
//
//   wire/                      nothing internal but itself
//   storage/                   wire
//   core/                      storage, wire
//   protocols/<p>/codec/       its own codec/, wire, storage/record-batch  (codecs are pure bytes <-> types)
//   protocols/<p>/             its own protocol folder, core, storage, wire, protocols/*.ts — never server/, cli/ or another protocol
//   protocols/*.ts             shared edge pieces (tcp-listener): core, storage, wire
//   cluster/                   core, storage, wire
//   server/                    anything but cli/
//   cli/                       anything
//
// Every relative import, re-export, `import type` and dynamic import() of every .ts file is checked (TypeScript's
// own pre-processor finds them, so comments and strings do not confuse it). Package imports are not checked.
// Usage: node scripts/check-layers.mjs [srcDir]   (default: src). Exits 1 and lists each violation.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const srcDir = resolve(process.argv[2] ?? 'src');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** `protocols/kafka/codec/frame.ts` → { layer: 'codec', protocol: 'kafka' }; module path without extension. */
function classify(rel) {
  const parts = rel.split('/');
  if (parts[0] === 'protocols' && parts.length >= 3) {
    return { layer: parts[2] === 'codec' && parts.length >= 4 ? 'codec' : 'protocol', protocol: parts[1] };
  }
  // Files directly in protocols/ are the edge pieces every protocol shares (tcp-listener.ts).
  if (parts[0] === 'protocols') return { layer: 'protocols-shared', protocol: null };
  return { layer: parts.length > 1 ? parts[0] : '(src root)', protocol: null };
}

const BASE = { 'protocols-shared': ['core', 'storage', 'wire'], wire: ['wire'], storage: ['storage', 'wire'], core: ['core', 'storage', 'wire'], cluster: ['cluster', 'core', 'storage', 'wire'] };

/** Null when allowed, else the reason. */
function check(from, to, toModule) {
  if (from.layer === 'cli') return null;
  if (from.layer === 'server') return to.layer === 'cli' ? 'server/ must not import cli/' : null;
  if (from.layer === 'codec') {
    if (to.layer === 'wire') return null;
    if (toModule === 'storage/record-batch') return null;
    if (to.layer === 'codec' && to.protocol === from.protocol) return null;
    return `protocols/${from.protocol}/codec/ may import only wire/, storage/record-batch and its own codec/`;
  }
  if (from.layer === 'protocol') {
    if (['core', 'storage', 'wire', 'protocols-shared'].includes(to.layer)) return null;
    if ((to.layer === 'protocol' || to.layer === 'codec') && to.protocol === from.protocol) return null;
    return `protocols/${from.protocol}/ may import only core/, storage/, wire/, protocols/*.ts and its own protocol folder`;
  }
  const allowed = BASE[from.layer];
  if (allowed === undefined) return `${from.layer} is not a known layer: add it to scripts/check-layers.mjs`;
  return allowed.includes(to.layer) ? null : `${from.layer}/ may import only ${allowed.map((l) => l + '/').join(', ')}`;
}

const violations = [];
const files = walk(srcDir);
for (const file of files) {
  const rel = relative(srcDir, file).split(sep).join('/');
  const from = classify(rel);
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  for (const imp of importedFiles) {
    const spec = imp.fileName;
    if (!spec.startsWith('.')) continue;
    const target = relative(srcDir, resolve(dirname(file), spec)).split(sep).join('/');
    if (target.startsWith('..')) {
      violations.push(`${rel}: imports '${spec}', outside src/`);
      continue;
    }
    const toModule = target.replace(/\.(js|ts|mjs)$/, '');
    const reason = check(from, classify(target), toModule);
    if (reason !== null) violations.push(`${rel}: imports '${spec}' — ${reason}`);
  }
}

if (violations.length > 0) {
  console.error(`layer rule violated (${violations.length}):`);
  for (const v of violations) console.error(`  ${v}`);
  process.exit(1);
}
console.log(`layers ok: ${files.length} files`);
