import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDuration, formatDuration } from './duration.js';
import { parseAddress, normalizeDomain } from './address.js';
import { parseStatic, parseDynamic } from './load.js';
import { lookupDestination } from './lookup.js';
import { ConfigError } from './errors.js';

test('property: formatDuration output parses back to the same value', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10_000 * 3_600_000 }), (ms) => {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }),
  );
});

test('property: parseDuration never throws anything but an Error with "duration"', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 12 }), (s) => {
      try {
        const v = parseDuration(s);
        assert.ok(Number.isFinite(v));
      } catch (e) {
        assert.ok(e instanceof Error && /duration/.test(e.message));
      }
    }),
  );
});

test('property: normalised domains are stable and ASCII lower-case', () => {
  fc.assert(
    fc.property(fc.domain(), (d) => {
      const n = normalizeDomain(d);
      if (n === undefined) return;
      assert.equal(n, n.toLowerCase());
      assert.equal(normalizeDomain(n), n);
      assert.equal(normalizeDomain(d.toUpperCase()), n);
    }),
  );
});

const stat = parseStatic('DataDir: d\nHostname: mail.example.com\nListeners: {}\nPostmaster: {Account: a}\n', '/x/mox.conf');

test('property: every configured address is found, with any case and any +tag', () => {
  const localpart = fc.stringMatching(/^[a-z0-9][a-z0-9._]{0,15}$/).filter((s) => !s.includes('..') && !s.endsWith('.'));
  fc.assert(
    fc.property(fc.uniqueArray(localpart, { minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), (lps, tag) => {
      const dests = lps.map((lp) => `      "${lp}@example.com": {}`).join('\n');
      const dyn = parseDynamic(
        `Domains:\n  example.com:\n    LocalpartCatchallSeparator: "+"\nAccounts:\n  a:\n    Domain: example.com\n    Destinations:\n${dests}\n`,
        '/x/domains.conf',
        stat,
      );
      for (const lp of lps) {
        const addr = `${lp.toUpperCase()}+${tag.replace(/[^a-z0-9]/gi, '')}x@EXAMPLE.com`;
        if (!parseAddress(addr)) continue;
        const r = lookupDestination(dyn, addr);
        assert.ok(r?.kind === 'account' && r.destinationKey === `${lp}@example.com`, addr);
      }
    }),
    { numRuns: 50 },
  );
});

test('property: arbitrary YAML-ish input never crashes the loader (only ConfigError)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (text) => {
      try {
        parseStatic(text, 'mox.conf');
      } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        assert.ok(e.issues.every((i) => i.file === 'mox.conf'));
      }
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      try {
        parseDynamic(JSON.stringify({ Domains: v }), 'domains.conf', stat);
      } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
      }
    }),
    { numRuns: 300 },
  );
});
