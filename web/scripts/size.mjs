// What a first visit downloads: the scripts and stylesheets index.html loads, gzipped (as
// CloudFront and most servers send them). Fails over the budget; prints one line for
// docs/performance.md and writes target/artifacts/web/bundle.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET = { js: 100 * 1024, css: 20 * 1024 };
const dist = resolve(import.meta.dirname, '../dist');
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(js|css))"/g)].map((m) => ({ path: m[1], kind: m[2] }));
if (refs.length === 0) throw new Error('index.html loads no assets: is web/dist a Vite build?');
const sizes = { js: { raw: 0, gzip: 0 }, css: { raw: 0, gzip: 0 } };
for (const { path, kind } of refs) {
  const bytes = readFileSync(join(dist, path));
  sizes[kind].raw += bytes.length;
  sizes[kind].gzip += gzipSync(bytes, { level: 9 }).length;
}
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(
  `first load: JavaScript ${kb(sizes.js.gzip)} gzipped (${kb(sizes.js.raw)} raw; budget ${kb(BUDGET.js)}), ` +
    `CSS ${kb(sizes.css.gzip)} gzipped (${kb(sizes.css.raw)} raw; budget ${kb(BUDGET.css)})`,
);
const out = resolve(import.meta.dirname, '../../target/artifacts/web');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'bundle.json'), JSON.stringify({ ...sizes, budget: BUDGET }, null, 2));
if (sizes.js.gzip > BUDGET.js || sizes.css.gzip > BUDGET.css) {
  console.error('over the bundle budget');
  process.exit(1);
}
