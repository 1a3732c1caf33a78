import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cachingResolver, NEGATIVE_TTL_MS, POSITIVE_TTL_MS } from './cache.js';
import { startTestDns } from './testserver.js';

function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

test('cache: hits avoid DNS queries, expire after the TTL', async () => {
  const dns = await startTestDns({ 'example.org': { A: ['192.0.2.1'], TXT: ['v=spf1 -all'] } });
  try {
    const clock = fakeClock();
    const r = cachingResolver(dns.resolver, { clock });
    assert.deepEqual(await r.resolve4('example.org'), ['192.0.2.1']);
    assert.deepEqual(await r.resolve4('EXAMPLE.org.'), ['192.0.2.1']);
    const t = await r.resolveTxt('example.org');
    assert.deepEqual(t, [['v=spf1 -all']]);
    t[0]!.push('y');
    // mailauth's generic form shares the entry with resolveTxt.
    assert.deepEqual(await r.resolve('example.org', 'TXT'), [['v=spf1 -all']]);
    assert.equal(dns.queries.length, 2);
    assert.equal(r.stats.hits, 2, 'the generic TXT lookup hit the cache, and the nested strings were copied');

    // Record changes are not seen until the entry expires.
    dns.set('example.org', { A: ['192.0.2.2'] });
    clock.advance(POSITIVE_TTL_MS - 1);
    assert.deepEqual(await r.resolve4('example.org'), ['192.0.2.1']);
    clock.advance(1);
    assert.deepEqual(await r.resolve4('example.org'), ['192.0.2.2']);
    assert.equal(dns.queries.length, 3);

    // Callers can't modify the cached answer.
    const a = await r.resolve4('example.org');
    a.push('x');
    assert.deepEqual(await r.resolve4('example.org'), ['192.0.2.2']);
  } finally {
    await dns.close();
  }
});

test('cache: negative answers are cached briefly with their error code', async () => {
  const dns = await startTestDns({ 'example.org': { A: ['192.0.2.1'] } });
  try {
    const clock = fakeClock();
    const r = cachingResolver(dns.resolver, { clock });
    assert.equal(await code(r.resolveTxt('nope.example.org')), 'ENOTFOUND');
    assert.equal(await code(r.resolveTxt('nope.example.org')), 'ENOTFOUND');
    assert.equal(await code(r.resolveTxt('example.org')), 'ENODATA');
    assert.equal(await code(r.resolve('example.org', 'TXT')), 'ENODATA');
    assert.equal(dns.queries.length, 2);

    dns.set('nope.example.org', { TXT: ['now here'] });
    clock.advance(NEGATIVE_TTL_MS);
    assert.deepEqual(await r.resolveTxt('nope.example.org'), [['now here']]);
    assert.equal(dns.queries.length, 3);
  } finally {
    await dns.close();
  }
});

test('cache: temporary failures are not cached', async () => {
  const dns = await startTestDns({ 'example.org': { servfail: true } });
  try {
    const r = cachingResolver(dns.resolver, { clock: fakeClock() });
    assert.equal(await code(r.resolve4('example.org')), 'ESERVFAIL');
    dns.set('example.org', { A: ['192.0.2.1'] });
    assert.deepEqual(await r.resolve4('example.org'), ['192.0.2.1']);
    assert.equal(r.size(), 1);
  } finally {
    await dns.close();
  }
});

test('cache: LRU eviction at maxEntries; concurrent lookups share one query', async () => {
  const dns = await startTestDns({ 'a.example': { A: ['192.0.2.1'] }, 'b.example': { A: ['192.0.2.2'] }, 'c.example': { A: ['192.0.2.3'] } });
  try {
    const r = cachingResolver(dns.resolver, { clock: fakeClock(), maxEntries: 2 });
    const [x, y] = await Promise.all([r.resolve4('a.example'), r.resolve4('a.example')]);
    assert.deepEqual(x, y);
    assert.equal(dns.queries.length, 1);
    await r.resolve4('b.example');
    await r.resolve4('a.example'); // a is now the most recently used
    await r.resolve4('c.example'); // evicts b
    assert.equal(r.size(), 2);
    const before = dns.queries.length;
    await r.resolve4('a.example');
    assert.equal(dns.queries.length, before);
    await r.resolve4('b.example');
    assert.equal(dns.queries.length, before + 1);
    r.clear();
    assert.equal(r.size(), 0);
  } finally {
    await dns.close();
  }
});
