import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  evaluateDmarc,
  isAligned,
  lookupDmarc,
  normalizeDomain,
  organizationalDomain,
  parseDmarcRecord,
} from './alignment.js';
import { startTestDns } from '../dns/testserver.js';

test('organizational domain from the public suffix list (rfc7489:3.2)', () => {
  assert.equal(organizationalDomain('example.org'), 'example.org');
  assert.equal(organizationalDomain('a.b.Example.ORG.'), 'example.org');
  assert.equal(organizationalDomain('mail.example.co.uk'), 'example.co.uk');
  assert.equal(organizationalDomain('co.uk'), 'co.uk');
  assert.equal(organizationalDomain('alice.github.io'), 'alice.github.io'); // private suffix section
  assert.equal(organizationalDomain('x.alice.github.io'), 'alice.github.io');
  assert.equal(organizationalDomain('mail.bücher.de'), 'xn--bcher-kva.de');
  assert.equal(normalizeDomain(' Bücher.DE. '), 'xn--bcher-kva.de');
});

test('identifier alignment, strict and relaxed (rfc7489:3.1)', () => {
  assert.equal(isAligned('example.org', 'example.org', 's'), true);
  assert.equal(isAligned('example.org', 'EXAMPLE.org.', 's'), true);
  assert.equal(isAligned('example.org', 'sub.example.org', 's'), false);
  assert.equal(isAligned('example.org', 'sub.example.org', 'r'), true);
  assert.equal(isAligned('a.example.org', 'b.example.org', 'r'), true);
  assert.equal(isAligned('a.example.org', 'b.example.org', 's'), false);
  assert.equal(isAligned('example.org', 'example.net', 'r'), false);
  assert.equal(isAligned('a.example.co.uk', 'b.other.co.uk', 'r'), false);
  assert.equal(isAligned('example.org', '', 'r'), false);
});

test('property: strict alignment implies relaxed alignment; alignment is symmetric', () => {
  const label = fc.constantFrom('a', 'b', 'mail', 'example', 'co', 'uk', 'org', 'github', 'io');
  const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
  fc.assert(
    fc.property(domain, domain, fc.constantFrom('r' as const, 's' as const), (a, b, mode) => {
      if (isAligned(a, b, 's')) assert.equal(isAligned(a, b, 'r'), true);
      assert.equal(isAligned(a, b, mode), isAligned(b, a, mode));
    }),
  );
});

test('parse DMARC records (rfc7489:6.3, 6.4)', () => {
  const r = parseDmarcRecord('v=DMARC1; p=reject; sp=Quarantine; adkim=s; aspf = S ; pct=50; rua=mailto:d@example.org,bogus');
  assert.ok(r);
  assert.deepEqual(
    { p: r.p, sp: r.sp, adkim: r.adkim, aspf: r.aspf, pct: r.pct, rua: r.rua },
    { p: 'reject', sp: 'quarantine', adkim: 's', aspf: 's', pct: 50, rua: ['mailto:d@example.org'] },
  );
  const d = parseDmarcRecord('v=DMARC1;p=none')!;
  assert.deepEqual([d.sp, d.adkim, d.aspf, d.pct], ['none', 'r', 'r', 100]);
  assert.equal(parseDmarcRecord('p=reject; v=DMARC1'), null, 'v must come first');
  assert.equal(parseDmarcRecord('v=spf1 -all'), null);
  assert.equal(parseDmarcRecord('v=DMARC1; p=bogus'), null, 'invalid p without rua: no policy');
  assert.equal(parseDmarcRecord('v=DMARC1; p=bogus; rua=mailto:x@example.org')!.p, 'none', 'invalid p with rua: p=none');
  assert.equal(parseDmarcRecord('v=DMARC1; p=reject; pct=150')!.pct, 100);
  assert.equal(parseDmarcRecord('v=DMARC1; p=reject; pct=x')!.pct, 100);
  assert.equal(parseDmarcRecord('v=DMARC1; p=reject; adkim=x')!.adkim, 'r');
  assert.equal(parseDmarcRecord('v=DMARC1; p=reject; unknown=1;')!.p, 'reject');
});

test('DMARC policy discovery via DNS (rfc7489:6.6.3)', async () => {
  const dns = await startTestDns({
    '_dmarc.example.org': { TXT: ['v=DMARC1; p=reject; sp=none', 'some other text'] },
    '_dmarc.two.example': { TXT: ['v=DMARC1; p=reject', 'v=DMARC1; p=none'] },
    '_dmarc.split.example': { TXT: [['v=DMARC1; ', 'p=quarantine']] },
    '_dmarc.broken.example': { servfail: true },
  });
  try {
    const r = dns.resolver;
    let l = await lookupDmarc('example.org', r);
    assert.equal(l.status, 'found');
    assert.ok(l.status === 'found' && !l.isOrgRecord && l.record.p === 'reject');
    l = await lookupDmarc('deep.sub.example.org', r);
    assert.ok(l.status === 'found' && l.isOrgRecord && l.domain === 'example.org');
    assert.equal((await lookupDmarc('two.example', r)).status, 'none', 'two DMARC records: none');
    l = await lookupDmarc('split.example', r);
    assert.ok(l.status === 'found' && l.record.p === 'quarantine');
    assert.equal((await lookupDmarc('nothing.example', r)).status, 'none');
    assert.equal((await lookupDmarc('broken.example', r)).status, 'temperror');

    const found = await lookupDmarc('sub.example.org', r);
    const ev = evaluateDmarc({ fromDomain: 'sub.example.org', dkimDomains: ['other.example'], spfDomain: 'example.org' }, found);
    assert.deepEqual(
      [ev.result, ev.policy, ev.alignment.spf, ev.alignment.dkim],
      ['pass', 'none', true, false],
    );
    const ev2 = evaluateDmarc({ fromDomain: 'example.org', dkimDomains: ['x.example.org'], spfDomain: undefined }, await lookupDmarc('example.org', r));
    assert.deepEqual([ev2.result, ev2.policy, ev2.alignedDkimDomain], ['pass', 'reject', 'x.example.org']);
    const ev3 = evaluateDmarc({ fromDomain: 'example.org', dkimDomains: [] }, { status: 'none', domain: 'example.org' });
    assert.deepEqual([ev3.result, ev3.policy], ['none', 'none']);
  } finally {
    await dns.close();
  }
});
