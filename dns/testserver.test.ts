import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createResolver } from './resolver.js';
import { startTestDns, reverseName, splitCharacterStrings } from './testserver.js';

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

test('test dns: A, AAAA, MX, TXT, CNAME, PTR answers', async () => {
  const dns = await startTestDns({
    'example.org': {
      A: ['192.0.2.1', '192.0.2.2'],
      AAAA: ['2001:db8::1'],
      MX: [{ exchange: 'mx.example.org', priority: 10 }],
      TXT: ['v=spf1 -all', ['part1', 'part2']],
    },
    'www.example.org': { CNAME: 'example.org' },
    'mx.example.org.': { A: ['127.0.0.1'] },
    '192.0.2.1': { PTR: ['mail.example.org'] },
    '2001:db8::1': { PTR: ['mail6.example.org'] },
  });
  try {
    const r = dns.resolver;
    assert.deepEqual((await r.resolve4('example.org')).sort(), ['192.0.2.1', '192.0.2.2']);
    assert.deepEqual(await r.resolve6('example.org'), ['2001:db8::1']);
    assert.deepEqual(await r.resolveMx('example.org'), [{ exchange: 'mx.example.org', priority: 10 }]);
    const txt = await r.resolveTxt('example.org');
    assert.deepEqual(
      txt.map((t) => t.join('|')).sort(),
      ['part1|part2', 'v=spf1 -all'],
    );
    assert.deepEqual(await r.resolveCname('www.example.org'), ['example.org']);
    // Other types follow the CNAME inside the zone.
    assert.deepEqual((await r.resolve4('www.example.org')).sort(), ['192.0.2.1', '192.0.2.2']);
    assert.deepEqual(await r.resolve4('mx.example.org'), ['127.0.0.1']);
    assert.deepEqual(await r.reverse('192.0.2.1'), ['mail.example.org']);
    assert.deepEqual(await r.reverse('2001:db8::1'), ['mail6.example.org']);
    // The generic form mailauth uses.
    assert.deepEqual(await r.resolve('example.org', 'TXT'), txt);
  } finally {
    await dns.close();
  }
});

test('test dns: NXDOMAIN is ENOTFOUND, no data is ENODATA, servfail is ESERVFAIL', async () => {
  const dns = await startTestDns({ 'example.org': { A: ['192.0.2.1'] }, 'broken.example': { servfail: true } });
  try {
    assert.equal(await code(dns.resolver.resolve4('nonexistent.example.org')), 'ENOTFOUND');
    assert.equal(await code(dns.resolver.resolveTxt('nonexistent.example.org')), 'ENOTFOUND');
    assert.equal(await code(dns.resolver.resolveTxt('example.org')), 'ENODATA');
    assert.equal(await code(dns.resolver.resolveMx('example.org')), 'ENODATA');
    assert.equal(await code(dns.resolver.resolve6('example.org')), 'ENODATA');
    assert.equal(await code(dns.resolver.resolve('example.org', 'SRV')), 'ENODATA');
    assert.equal(await code(dns.resolver.resolve4('broken.example')), 'ESERVFAIL');
  } finally {
    await dns.close();
  }
});

test('test dns: names are case-insensitive; set() adds, replaces and removes', async () => {
  const dns = await startTestDns({ 'Example.ORG': { A: ['192.0.2.1'] } });
  try {
    assert.deepEqual(await dns.resolver.resolve4('EXAMPLE.org'), ['192.0.2.1']);
    dns.set('new.example.org', { TXT: ['hello'] });
    assert.deepEqual(await dns.resolver.resolveTxt('NEW.example.org.'), [['hello']]);
    dns.set('example.org', { A: ['192.0.2.9'] });
    assert.deepEqual(await dns.resolver.resolve4('example.org'), ['192.0.2.9']);
    dns.set('example.org', null);
    assert.equal(await code(dns.resolver.resolve4('example.org')), 'ENOTFOUND');
    assert.ok(dns.queries.some((q) => q.name === 'new.example.org' && q.type === 'TXT'));
  } finally {
    await dns.close();
  }
});

test('test dns: long TXT split into 255-byte strings, large answers over TCP', async () => {
  const long = 'v=DKIM1;k=rsa;p=' + 'A'.repeat(3000);
  const dns = await startTestDns({ 'sel._domainkey.example.org': { TXT: [long] } });
  try {
    const txt = await dns.resolver.resolveTxt('sel._domainkey.example.org');
    assert.equal(txt.length, 1);
    assert.ok(txt[0]!.length >= 4, 'split into several character-strings');
    for (const s of txt[0]!) assert.ok(Buffer.byteLength(s) <= 255);
    assert.equal(txt[0]!.join(''), long);
    assert.ok(dns.queries.some((q) => q.transport === 'tcp'), 'truncated UDP answer retried over TCP');
    // A separate resolver instance created the way production does works as well.
    const r2 = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1 });
    assert.equal((await r2.resolveTxt('sel._domainkey.example.org'))[0]!.join(''), long);
  } finally {
    await dns.close();
  }
});

test('test dns: helpers', () => {
  assert.equal(reverseName('192.0.2.1'), '1.2.0.192.in-addr.arpa');
  assert.equal(
    reverseName('2001:db8::1'),
    '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
  );
  const parts = splitCharacterStrings('é'.repeat(200)); // 400 bytes, never split inside a character
  assert.equal(parts.length, 2);
  assert.equal(parts[0]!.length, 254);
  assert.equal(Buffer.concat(parts).toString('utf8'), 'é'.repeat(200));
  assert.deepEqual(splitCharacterStrings(''), [Buffer.alloc(0)]);
});

test('test dns: close is idempotent and frees the port', async () => {
  const dns = await startTestDns({});
  await Promise.all([dns.close(), dns.close()]);
});
