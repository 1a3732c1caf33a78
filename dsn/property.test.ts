// Property tests (fast-check): parseDsn, analyzeBounce and parseArf never throw, on arbitrary bytes
// and on truncated/mutated corpus samples and composed DSNs; composed DSNs always parse back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parseDsn } from './parse.js';
import { analyzeBounce } from './bounce.js';
import { parseArf } from './arf.js';
import { composeDsn } from './compose.js';
import { ACTIONS } from './fields.js';

const RUNS = 2000;
const CORPUS = fileURLToPath(new URL('../../../shared/testdata/bounces/bounce/', import.meta.url));
const samples = existsSync(CORPUS)
  ? readdirSync(CORPUS)
      .filter((f) => f.endsWith('.eml'))
      .sort()
      .map((f) => readFileSync(CORPUS + f))
  : [];

function all(b: Buffer): void {
  const p = parseDsn(b);
  if (p) assert.ok(Array.isArray(p.recipients) && Array.isArray(p.errors));
  const r = analyzeBounce(b);
  assert.ok(['dsn', 'bounce', 'complaint', 'autoreply', 'notabounce'].includes(r.kind));
  for (const x of r.recipients) assert.match(x.status, /^[245]\.\d{1,3}\.\d{1,3}$/);
  parseArf(b);
  JSON.stringify(r);
}

test('arbitrary bytes never throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (a) => all(Buffer.from(a))),
    { numRuns: RUNS },
  );
});

// Text that looks like reports: fragments of DSN/bounce vocabulary in random order.
const words = fc.constantFrom(
  'Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n',
  'Content-Type: message/delivery-status\r\n',
  'Content-Type: message/global-delivery-status\r\n',
  'Content-Type: message/feedback-report\r\n',
  'Content-Type: text/rfc822-headers\r\n',
  'Content-Type: message/rfc822\r\n',
  'Content-Transfer-Encoding: base64\r\n',
  '--b\r\n',
  '--b--\r\n',
  '\r\n',
  'Final-Recipient: rfc822; a@b.example\r\n',
  'Final-Recipient: utf-8; \\x{FFFFFFF}@x\r\n',
  'Original-Recipient: rfc822;+FF+C3+28@x\r\n',
  'Action: failed\r\n',
  'Status: 5.1.1 (((\r\n',
  'Diagnostic-Code: smtp; 550 5.1.1 no\r\n',
  ' continued\r\n',
  'X-Failed-Recipients: x@y.example\r\n',
  'From: MAILER-DAEMON@x\r\n',
  'Subject: Undelivered Mail Returned to Sender\r\n',
  'Hi. This is the qmail-send program at x.\r\n',
  '<u@v.example>:\r\n',
  'Remote host said: 552 5.2.2 full\r\n',
  '"notificationType":"Bounce","bouncedRecipients":[{"emailAddress":"q@r"}\r\n',
  'Feedback-Type: abuse\r\n',
  'Source-IP: 192.0.2.1\r\n',
  '@@@@ <<<>>> ((( """ \\\\ \r\n',
);

test('report-like token soup never throws', () => {
  fc.assert(
    fc.property(fc.array(words, { maxLength: 60 }), (ws) => all(Buffer.from(ws.join(''), 'utf8'))),
    { numRuns: RUNS },
  );
});

test('truncated and mutated corpus samples never throw', { skip: samples.length ? false : 'corpus not found' }, () => {
  fc.assert(
    fc.property(
      fc.nat({ max: samples.length - 1 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }),
      (i, cut, muts) => {
        const s = samples[i]!;
        const b = Buffer.from(s.subarray(0, Math.floor(s.length * (0.2 + 0.8 * cut))));
        for (const [pos, byte] of muts) if (b.length) b[Math.floor(pos * (b.length - 1))] = byte;
        all(b);
      },
    ),
    { numRuns: RUNS },
  );
});

const addr = fc.tuple(fc.stringMatching(/^[a-z0-9.+_-]{1,12}$/), fc.constantFrom('', 'ø', '用户', 'é')).map(([a, u]) => `${a}${u}@example.com`);

test('composed DSNs always parse back (random recipients, comments, diagnostics)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          finalRecipient: addr,
          action: fc.constantFrom(...ACTIONS),
          statusComment: fc.option(fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' ').trim()), { nil: undefined }),
          diagnosticCode: fc.option(fc.stringMatching(/^[45]\d\d [45]\.\d\.\d [ -~]{0,200}$/).map((s) => s.trim()), { nil: undefined }),
        }),
        { minLength: 1, maxLength: 5 },
      ),
      (rs) => {
        const recipients = rs.map((r) => {
          const o: Parameters<typeof composeDsn>[0]['recipients'][number] = { finalRecipient: r.finalRecipient, action: r.action };
          if (r.statusComment) o.statusComment = r.statusComment;
          if (r.diagnosticCode) o.diagnosticCode = r.diagnosticCode;
          return o;
        });
        const msg = composeDsn({ hostname: 'mx.example.net', to: 'sender@example.org', recipients });
        const p = parseDsn(msg);
        assert.ok(p);
        assert.equal(p.recipients.length, recipients.length);
        recipients.forEach((r, i) => {
          const g = p.recipients[i]!;
          assert.equal(g.address, r.finalRecipient);
          assert.equal(g.action, r.action);
          assert.equal(g.diagnostic, r.diagnosticCode);
          if (r.statusComment) assert.equal(g.statusComment, r.statusComment);
        });
      },
    ),
    { numRuns: 500 },
  );
});

test('adversarial large inputs stay linear (no regex blow-up)', () => {
  const hdr = 'From: MAILER-DAEMON@x.example\r\nSubject: Undelivered Mail Returned to Sender\r\nTo: a@b.example\r\n\r\n';
  const report = (body: string) =>
    `Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n\r\n${body}\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; ${body}\r\n\r\nFinal-Recipient: rfc822; ${body}\r\nAction: failed\r\nStatus: 5.1.1 (${body}\r\nDiagnostic-Code: smtp; ${body}\r\n--b--\r\n`;
  const bodies: Record<string, string> = {
    word: 'a'.repeat(400_000),
    local: 'a'.repeat(100_000) + '@' + 'b'.repeat(100_000),
    ats: 'a@'.repeat(100_000),
    dashes: 'x@a' + '-'.repeat(200_000),
    digits: '5'.repeat(300_000),
    codes: '550 5.1.1 <u@v.example>: user unknown\r\n'.repeat(10_000),
    parens: '('.repeat(200_000),
    colons: 'A:'.repeat(200_000),
  };
  for (const [name, body] of Object.entries(bodies)) {
    for (const m of [hdr + body, report(body)]) {
      const t = performance.now();
      all(Buffer.from(m));
      const ms = performance.now() - t;
      if (process.env.DSN_PERF) console.log(name, ms.toFixed(0));
      assert.ok(ms < 5000, `${name}: ${ms.toFixed(0)} ms`);
    }
  }
});
