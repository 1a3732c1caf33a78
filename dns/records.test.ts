import { test } from 'node:test';
import assert from 'node:assert/strict';
import { domainRecords, txtValue } from './records.js';

test('txtValue splits long strings at 255 bytes and escapes quotes', () => {
  const s = 'a'.repeat(300);
  assert.equal(txtValue(s), `"${'a'.repeat(255)}" "${'a'.repeat(45)}"`);
  assert.equal(txtValue('x"y'), '"x\\"y"');
});

test('records for a domain include MX, SPF, DKIM, DMARC, TLSRPT, MTA-STS and client SRV', () => {
  const lines = domainRecords({
    domain: 'example.test',
    hostname: 'mail.example.test',
    ips: ['192.0.2.10', '2001:db8::10'],
    dkim: [{ selector: '2026a', txt: 'v=DKIM1;k=ed25519;h=sha256;p=AAAA' }],
    mtastsPolicyId: '20261121T000000',
  });
  const zone = lines.join('\n');
  assert.match(zone, /^example\.test\. 300 IN MX 10 mail\.example\.test\.$/m);
  assert.match(zone, /^mail\.example\.test\. 300 IN A 192\.0\.2\.10$/m);
  assert.match(zone, /^mail\.example\.test\. 300 IN AAAA 2001:db8::10$/m);
  assert.match(zone, /^example\.test\. 300 IN TXT "v=spf1 ip4:192\.0\.2\.10 ip6:2001:db8::10 mx ~all"$/m);
  assert.match(zone, /^2026a\._domainkey\.example\.test\. 300 IN TXT "v=DKIM1;k=ed25519;h=sha256;p=AAAA"$/m);
  assert.match(zone, /^_dmarc\.example\.test\. 300 IN TXT "v=DMARC1;p=reject;rua=mailto:dmarcreports@example\.test!10m"$/m);
  assert.match(zone, /^_smtp\._tls\.example\.test\. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsreports@example\.test"$/m);
  assert.match(zone, /^_mta-sts\.example\.test\. 300 IN TXT "v=STSv1; id=20261121T000000"$/m);
  assert.match(zone, /^autoconfig\.example\.test\. 300 IN CNAME mail\.example\.test\.$/m);
  assert.match(zone, /^_submissions\._tcp\.example\.test\. 300 IN SRV 0 1 465 mail\.example\.test\.$/m);
  // Every non-comment, non-empty line is a well-formed "name ttl IN type data" record.
  for (const l of lines.filter((l) => l && !l.startsWith(';'))) assert.match(l, /^\S+\. 300 IN (A|AAAA|MX|TXT|CNAME|SRV) \S/);
});
