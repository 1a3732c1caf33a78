#!/usr/bin/env node
// Fails when an installed package declares an `engines.node` range that excludes the running
// Node version (npm only warns). Node 20 is end-of-life and many packages' newest majors need 22,
// so this catches an accidental upgrade before it turns into a runtime crash.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [maj, min, pat] = process.versions.node.split('.').map(Number);
const nm = new URL('../node_modules/', import.meta.url).pathname;

// Minimal semver range check for the forms used in engines fields: ">=x.y.z", "^x.y", "x || y", "20.x", "*".
function satisfiesOne(c) {
  c = c.trim().replace(/(>=|<=|>|<|=|\^|~)\s+/g, "$1");
  if (!c || c === '*' || c === 'x') return true;
  const parts = c.split(/\s+/).filter(Boolean);
  if (parts.length > 1) return parts.every(satisfiesOne);
  const m = /^(>=|<=|>|<|\^|~|=)?\s*v?(\d+|x|\*)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?/.exec(c);
  if (!m) return true;
  const op = m[1] ?? '=';
  const v = [m[2], m[3], m[4]].map((x) => (x === undefined || x === 'x' || x === '*' ? undefined : Number(x)));
  const cmp = (() => {
    const cur = [maj, min, pat];
    for (let i = 0; i < 3; i++) {
      if (v[i] === undefined) return 0;
      if (cur[i] !== v[i]) return cur[i] > v[i] ? 1 : -1;
    }
    return 0;
  })();
  switch (op) {
    case '>=': return cmp >= 0;
    case '>': return cmp > 0;
    case '<=': return cmp <= 0;
    case '<': return cmp < 0;
    case '^': return cmp >= 0 && maj === v[0];
    case '~': return cmp >= 0 && maj === v[0] && (v[1] === undefined || min === v[1]);
    default: return cmp === 0;
  }
}
const satisfies = (range) => range.split('||').some(satisfiesOne);

const bad = [];
function check(dir) {
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    if (name.startsWith('@')) { check(p); continue; }
    const pj = join(p, 'package.json');
    if (!existsSync(pj)) continue;
    const pkg = JSON.parse(readFileSync(pj, 'utf8'));
    const range = pkg.engines?.node;
    if (typeof range === 'string' && !satisfies(range)) bad.push(`${pkg.name}@${pkg.version} needs node ${range}`);
    const sub = join(p, 'node_modules');
    if (existsSync(sub)) check(sub);
  }
}
check(nm);
if (bad.length) {
  console.error(`packages that do not support node ${process.versions.node}:\n  ${bad.join('\n  ')}`);
  process.exit(1);
}
console.log(`engines: every installed package accepts node ${process.versions.node}`);
