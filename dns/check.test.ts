import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDns } from './testserver.js';
import { checkRecords } from './check.js';
import { expectedRecords } from './records.js';

test('checkRecords: ok, missing, different and failed lookups against a DNS server', async (t) => {
  const dkimTxt = 'v=DKIM1;k=ed25519;h=sha256;p=AAAABBBBCCCC';
  const expected = expectedRecords({
    domain: 'example.org',
    hostname: 'mail.example.org',
    ips: ['192.0.2.1'],
    dkim: [
      { selector: 'a', txt: dkimTxt },
      { selector: 'b', txt: 'v=DKIM1;k=rsa;h=sha256;p=RSAKEY' },
    ],
    mtastsPolicyId: 'pol1',
  });
  const dns = await startTestDns({
    // An MX list that includes our host is OK, whatever else it lists.
    'example.org': { MX: [{ exchange: 'backup.example.net', priority: 20 }, { exchange: 'MAIL.example.org', priority: 10 }], TXT: ['v=spf1  ip4:192.0.2.1 mx ~all', 'other=1'] },
    // SPF of the host name with another policy.
    'mail.example.org': { TXT: ['v=spf1 -all'] },
    // DKIM: tags in another order and spacing, split strings, no v= (optional, rfc6376:3.6.1)
    // and no h= tag: still the same key.
    'a._domainkey.example.org': { TXT: [['k=ed25519 ; p=AAAA', 'BBBB CCCC']] },
    // Another key at b.
    'b._domainkey.example.org': { TXT: ['v=DKIM1; k=rsa; p=OTHERKEY'] },
    '_dmarc.example.org': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarcreports@example.org!10m'] },
    '_smtp._tls.example.org': { servfail: true },
    'mta-sts.example.org': { CNAME: 'mail.example.org' },
  });
  t.after(() => dns.close());
  const got = Object.fromEntries((await checkRecords(dns.resolver, expected)).map((c) => [c.purpose, c.status]));
  assert.deepEqual(got, {
    MX: 'ok',
    SPF: 'ok',
    'SPF of the host name': 'different',
    'DKIM a': 'ok',
    'DKIM b': 'different',
    DMARC: 'ok',
    TLSRPT: 'error',
    'MTA-STS': 'missing',
    'MTA-STS policy host': 'ok',
  });
  const spf = (await checkRecords(dns.resolver, expected.filter((e) => e.purpose === 'SPF')))[0]!;
  assert.deepEqual(spf.found, ['v=spf1  ip4:192.0.2.1 mx ~all'], 'only records of the kind are shown');
});
