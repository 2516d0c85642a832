#!/usr/bin/env node
// The web console's copy step, after `tsc -p console/tsconfig.json` has compiled console/*.ts into
// dist/console/: copies the page, its stylesheet and uPlot (the charts; an npm dependency loaded by the page as
// a classic script) beside the compiled modules, so dist/console/ is everything src/server/console.ts serves.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist/console');
mkdirSync(out, { recursive: true });
const files = [
  ['console/index.html', 'index.html'],
  ['console/console.css', 'console.css'],
  ['node_modules/uplot/dist/uPlot.iife.min.js', 'uPlot.iife.min.js'],
  ['node_modules/uplot/dist/uPlot.min.css', 'uPlot.min.css'],
];
for (const [from, to] of files) copyFileSync(join(root, from), join(out, to));
console.log(`console: ${files.length} files copied to dist/console/`);
