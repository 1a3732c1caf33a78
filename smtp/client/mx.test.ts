import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDns, type TestDns } from '../../dns/testserver.js';
import type { Resolver } from '../../dns/resolver.js';
import { resolveMx, resolveHostIPs, orderMxHosts, HostLookupError, normalizeDomain } from './mx.js';

let dns: TestDns;

before(async () => {
  dns = await startTestDns({
    'pref.example': {
      MX: [
        { exchange: 'c.pref.example', priority: 20 },
        { exchange: 'a.pref.example', priority: 10 },
        { exchange: 'B.pref.example.', priority: 10 },
        { exchange: 'd.pref.example', priority: 30 },
      ],
    },
    'alias.example': { CNAME: 'alias2.example' },
    'alias2.example': { CNAME: 'target.example' },
    'target.example': { MX: [{ exchange: 'mx.target.example', priority: 5 }] },
    'aliasimplicit.example': { CNAME: 'host.example' },
    'host.example': { A: ['192.0.2.1'], AAAA: ['2001:db8::1', '2001:db8::2'] },
    'v4.example': { A: ['192.0.2.7'] },
    'nullmx.example': { MX: [{ exchange: '.', priority: 0 }] },
    'nullplus.example': { MX: [{ exchange: '.', priority: 0 }, { exchange: 'mx.nullplus.example', priority: 10 }] },
    'servfail.example': { servfail: true },
    'noaddr.example': { TXT: ['v=spf1 -all'] },
    'loop1.example': { CNAME: 'loop2.example' },
    'loop2.example': { CNAME: 'loop1.example' },
    'sfhost.example': { servfail: true },
  });
});

after(() => dns.close());

test('MX hosts ordered by preference, equal preferences shuffled by the injected random', async () => {
  const r0 = await resolveMx('pref.example', dns.resolver, { random: () => 0 });
  const r9 = await resolveMx('Pref.Example.', dns.resolver, { random: () => 0.99 });
  assert.equal(r0.kind, 'mx');
  assert.equal(r9.kind, 'mx');
  const hosts = (r: typeof r0) => (r.kind === 'mx' ? r.hosts.map((h) => `${h.preference}:${h.host}`) : []);
  const a = hosts(r0);
  const b = hosts(r9);
  assert.deepEqual(a.slice(2), ['20:c.pref.example', '30:d.pref.example']);
  assert.deepEqual(new Set(a.slice(0, 2)), new Set(['10:a.pref.example', '10:b.pref.example']));
  assert.notDeepEqual(a.slice(0, 2), b.slice(0, 2), 'random decides the order within a preference');
});

test('orderMxHosts: stable groups, every host kept', () => {
  const hosts = [5, 1, 5, 1, 5, 3].map((preference, i) => ({ host: `h${i}`, preference }));
  for (let seed = 0; seed < 5; seed++) {
    const out = orderMxHosts(hosts, () => (seed * 0.23) % 1);
    assert.deepEqual(out.map((h) => h.preference), [1, 1, 3, 5, 5, 5]);
    assert.deepEqual(new Set(out.map((h) => h.host)), new Set(hosts.map((h) => h.host)));
  }
});

test('CNAMEs are followed before the MX lookup (rfc5321:5.1)', async () => {
  assert.deepEqual(await resolveMx('alias.example', dns.resolver), { kind: 'mx', hosts: [{ host: 'mx.target.example', preference: 5 }] });
  // Implicit MX uses the canonical name.
  assert.deepEqual(await resolveMx('aliasimplicit.example', dns.resolver), { kind: 'implicit', hosts: [{ host: 'host.example', preference: 0 }] });
  const loop = await resolveMx('loop1.example', dns.resolver);
  assert.equal(loop.kind, 'error');
});

test('implicit MX, null MX, NXDOMAIN, SERVFAIL, no addresses', async () => {
  assert.deepEqual(await resolveMx('v4.example', dns.resolver), { kind: 'implicit', hosts: [{ host: 'v4.example', preference: 0 }] });
  assert.deepEqual(await resolveMx('nullmx.example', dns.resolver), { kind: 'nullmx' });
  // A "." among real MX records is ignored.
  assert.deepEqual(await resolveMx('nullplus.example', dns.resolver), { kind: 'mx', hosts: [{ host: 'mx.nullplus.example', preference: 10 }] });
  const nx = await resolveMx('nx.example', dns.resolver);
  assert.equal(nx.kind, 'error');
  assert.equal(nx.kind === 'error' && nx.temporary, false);
  const sf = await resolveMx('servfail.example', dns.resolver);
  assert.equal(sf.kind === 'error' && sf.temporary, true);
  const none = await resolveMx('noaddr.example', dns.resolver);
  assert.equal(none.kind === 'error' && none.temporary, false);
  assert.match(none.kind === 'error' ? none.message : '', /no MX or address records/);
  const bad = await resolveMx('exa mple', dns.resolver);
  assert.equal(bad.kind, 'error');
});

test('timeouts from the resolver are temporary', async () => {
  const timeoutErr = Object.assign(new Error('timeout'), { code: 'ETIMEOUT' });
  const r: Resolver = { ...dns.resolver, resolveCname: () => Promise.reject(Object.assign(new Error('nodata'), { code: 'ENODATA' })), resolveMx: () => Promise.reject(timeoutErr) };
  const out = await resolveMx('x.example', r);
  assert.deepEqual(out, { kind: 'error', temporary: true, message: 'looking up MX for x.example: ETIMEOUT' });
});

test('IDNA: unicode domains are looked up as A-labels', () => {
  assert.equal(normalizeDomain('Bücher.Example.'), 'xn--bcher-kva.example');
});

test('resolveHostIPs: IPv6 and IPv4 interleaved, families can be disabled, failures classified', async () => {
  assert.deepEqual(await resolveHostIPs('host.example', dns.resolver), ['2001:db8::1', '192.0.2.1', '2001:db8::2']);
  assert.deepEqual(await resolveHostIPs('host.example', dns.resolver, { disableIPv6: true }), ['192.0.2.1']);
  assert.deepEqual(await resolveHostIPs('host.example', dns.resolver, { disableIPv4: true }), ['2001:db8::1', '2001:db8::2']);
  assert.deepEqual(await resolveHostIPs('v4.example', dns.resolver), ['192.0.2.7']);
  assert.deepEqual(await resolveHostIPs('192.0.2.9', dns.resolver), ['192.0.2.9']);
  await assert.rejects(resolveHostIPs('v4.example', dns.resolver, { disableIPv4: true }), (e: unknown) => e instanceof HostLookupError && !e.temporary);
  await assert.rejects(resolveHostIPs('nx.example', dns.resolver), (e: unknown) => e instanceof HostLookupError && !e.temporary);
  await assert.rejects(resolveHostIPs('sfhost.example', dns.resolver), (e: unknown) => e instanceof HostLookupError && e.temporary);
});
