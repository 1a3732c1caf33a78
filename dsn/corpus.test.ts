// Table-driven test over the real-world bounce corpus in /work/shared/testdata/bounces/ (sisimai's
// set-of-emails, BSD-2-Clause; referenced by path, not copied). For each sample we compare
// analyzeBounce's answer with what the sample itself states (X-Failed-Recipients, Final-Recipient,
// the returned message's To, RCPT TO lines, Status fields, …) and report figures for the whole set.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { analyzeBounce, looksLikeReport, type BounceResult } from './bounce.js';
import { parseArf } from './arf.js';
import { parseDsn } from './parse.js';

// dist/dsn/ → /work/shared/testdata/bounces/
const CORPUS = fileURLToPath(new URL('../../../shared/testdata/bounces/', import.meta.url));
const present = existsSync(CORPUS + 'bounce');
const skip = present ? false : `bounce corpus not found at ${CORPUS}`;

const ADDR = /[^\s<>,;:"'()[\]=]+@[^\s<>,;:"'()[\]]+/g;

function addrs(s: string): string[] {
  return (s.toLowerCase().match(ADDR) ?? []).map((a) => a.replace(/[.]+$/, ''));
}

/** Recipients the sample states, independently of the analyser: structured fields, the returned
 * message's To/Cc, RCPT TO lines, qmail-style "<addr>:" lines, SES JSON, addresses quoted in SMTP
 * replies. The top-level To (the bounce goes to the original sender) is left out unless a strong
 * field (X-Failed-Recipients, Final-Recipient, "<addr>:") names it. */
export function statedRecipients(raw: Buffer): Set<string> {
  const s = raw.toString('latin1').replace(/\r\n?/g, '\n');
  const hdrEnd = s.indexOf('\n\n') < 0 ? s.length : s.indexOf('\n\n');
  const strong = new Set<string>();
  const weak = new Set<string>();
  const top = new Set<string>();
  const field = /^(X-Failed-Recipients|Final-Recipient|Original-Recipient|X-Original-To|To|Cc|Delivered-To|Envelope-To|X-Actual-Recipient)\s*:(.*(?:\n[ \t].*)*)/gim;
  for (const m of s.matchAll(field)) {
    const name = m[1]!.toLowerCase();
    const list = addrs(m[2]!);
    if (m.index! < hdrEnd && name !== 'x-failed-recipients') {
      // The bounce's own addressee is the original sender; its delivery headers say nothing.
      if (name === 'to' || name === 'cc') list.forEach((a) => top.add(a));
      continue;
    }
    for (const a of list) (['x-failed-recipients', 'final-recipient', 'original-recipient'].includes(name) ? strong : weak).add(a);
  }
  // Received: … for <rcpt>; names the envelope recipient of the returned message.
  for (const m of s.slice(hdrEnd).matchAll(/\bfor <([^>\s]+@[^>\s]+)>/g)) weak.add(m[1]!.toLowerCase());
  for (const m of s.matchAll(/RCPT TO:\s*<([^>\s]+@[^>\s]+)>/gi)) weak.add(m[1]!.toLowerCase());
  for (const m of s.matchAll(/^\s*<([^>\s]+@[^>\s]+)>:?\s*$|^<([^>\s]+@[^>\s]+)>:/gm)) strong.add((m[1] ?? m[2])!.toLowerCase());
  for (const m of s.matchAll(/\\?"emailAddress\\?"\s*:\s*\\?"([^"\\]+)\\?"/g)) strong.add(m[1]!.toLowerCase());
  for (const m of s.matchAll(/\b[45]\d\d[ -].{0,80}?<([^>\s]+@[^>\s]+)>/g)) weak.add(m[1]!.toLowerCase());
  // Prose: "the following recipient(s)/address(es)…", "could not be delivered to", "your mail to".
  const human = s.slice(hdrEnd);
  const prose =
    /(?:following (?:recipients?|address(?:es)?|destination addresses)[^\n]*|(?:could not|couldn't|cannot|was not|wasn't|not) be delivered to:?|(?:delivering|deliver) (?:your (?:mail|message) )?to|your message to|recipient(?: address)?:|failed recipient:|did not reach the following recipient\(s\):|to the following address(?:es)?[^\n]*|list of recipients:|these recipients(?: or groups)?:|Failure Reasons[^\n]*)\s*([^\n]*(?:\n[^\n]*){0,3})/gi;
  for (const m of human.matchAll(prose)) {
    const a = addrs(m[1]!)[0];
    if (a) weak.add(a);
  }
  const out = new Set([...strong, ...[...weak].filter((a) => !top.has(a))]);
  return out;
}

/** Status classes the sample states in Status fields or SMTP replies ("5", "4", "2"). */
function statedClasses(raw: Buffer): Set<string> {
  const s = raw.toString('latin1');
  const out = new Set<string>();
  for (const m of s.matchAll(/^Status:\s*([245])\.\d/gim)) out.add(m[1]!);
  return out;
}

/** The sample states this enhanced code (leading zeros allowed: 5.1.01). */
function statedCode(text: string, code: string): boolean {
  const [a, b, c] = code.split('.');
  return new RegExp(`(?<![\\d.])${a}\\.0*${b}\\.0*${c}(?![\\d])`).test(text);
}

interface Row {
  file: string;
  r: BounceResult;
  stated: Set<string>;
  recipient: boolean;
  recipientRight: boolean;
  unverifiable: boolean;
  smtpCode: boolean;
  enhancedCode: boolean;
  classified: boolean;
  statusRight: boolean;
}

const analysed = new Map<string, BounceResult>();
/** analyzeBounce of a corpus file, computed once for all tests in this file. */
function analyse(file: string, raw?: Buffer): BounceResult {
  let r = analysed.get(file);
  if (!r) {
    r = analyzeBounce(raw ?? readFileSync(CORPUS + 'bounce/' + file));
    analysed.set(file, r);
  }
  return r;
}

function evaluate(file: string, raw: Buffer): Row {
  const r = analyse(file, raw);
  const stated = statedRecipients(raw);
  const rc = r.recipients[0];
  const a = rc?.address.toLowerCase().replace(/^"|"(?=@)/g, '');
  const recipientRight = !!a && [...stated].some((e) => e === a || e.replace(/"/g, '') === a.replace(/"/g, ''));
  // Quoted-printable soft line breaks can split a code in the raw bytes.
  const text = raw.toString('latin1').replace(/=\r?\n/g, '');
  const classes = statedClasses(raw);
  const statusRight =
    !!rc &&
    /^[245]\.\d{1,3}\.\d{1,3}$/.test(rc.status) &&
    (rc.enhancedCode === undefined || statedCode(text, rc.enhancedCode)) &&
    (rc.smtpCode === undefined || text.includes(String(rc.smtpCode))) &&
    (classes.size === 0 || classes.has(rc.status[0]!) || (rc.enhancedCode !== undefined && classes.has(rc.enhancedCode[0]!)));
  return {
    file,
    r,
    stated,
    recipient: !!rc,
    recipientRight,
    unverifiable: stated.size === 0,
    smtpCode: rc?.smtpCode !== undefined,
    enhancedCode: rc?.enhancedCode !== undefined,
    classified: !!rc && rc.class !== 'other',
    statusRight,
  };
}

test('bounce corpus: recipient, codes and class for the whole set', { skip }, () => {
  const dir = CORPUS + 'bounce/';
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.eml') && !/^(arf|rfc3834)-/.test(f))
    .sort();
  const t0 = performance.now();
  const rows = files.map((f) => evaluate(f, readFileSync(dir + f)));
  const ms = performance.now() - t0;
  const n = rows.length;
  const count = (p: (r: Row) => boolean) => rows.filter(p).length;
  const pct = (k: number) => `${k}/${n} (${((100 * k) / n).toFixed(1)} %)`;
  const bounce = count((r) => r.r.isBounce);
  const rec = count((r) => r.recipient);
  const recRight = count((r) => r.recipientRight);
  const unver = count((r) => r.unverifiable && r.recipient);
  const smtp = count((r) => r.smtpCode);
  const enh = count((r) => r.enhancedCode);
  const either = count((r) => r.smtpCode || r.enhancedCode);
  const cls = count((r) => r.classified);
  const both = count((r) => r.recipientRight && r.statusRight);
  const bothLenient = count((r) => (r.recipientRight || (r.unverifiable && r.recipient)) && r.statusRight);
  const byClass: Record<string, number> = {};
  for (const r of rows) {
    const c = r.r.recipients[0]?.class ?? '(none)';
    byClass[c] = (byClass[c] ?? 0) + 1;
  }
  const lines = [
    `corpus: ${n} bounce samples (arf-* and rfc3834-* excluded), analysed in ${ms.toFixed(0)} ms`,
    `recognised as a bounce/DSN:        ${pct(bounce)}`,
    `a failed recipient:                ${pct(rec)}`,
    `  the one the sample states:       ${pct(recRight)} (+${unver} samples that state none in a checkable place)`,
    `SMTP reply code found:             ${pct(smtp)}`,
    `enhanced status code found:        ${pct(enh)}`,
    `either code found:                 ${pct(either)}`,
    `a bounce class other than "other": ${pct(cls)}`,
    `right recipient and status:        ${pct(both)}`,
    `  counting unverifiable as right:  ${pct(bothLenient)}`,
    `classes: ${Object.entries(byClass)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ];
  const missed = rows.filter((r) => !(r.recipientRight && r.statusRight));
  lines.push(`missed (${missed.length}):`);
  for (const m of missed) lines.push(`  ${m.file}: got ${m.r.recipients[0]?.address ?? '-'} ${m.r.recipients[0]?.status ?? ''}; stated ${[...m.stated].join(', ') || '-'}`);
  const noCode = rows.filter((r) => r.recipient && !r.smtpCode && !r.enhancedCode).map((r) => r.file.replace(/-\d+\.eml$/, ''));
  const fam: Record<string, number> = {};
  for (const f of noCode) fam[f] = (fam[f] ?? 0) + 1;
  lines.push(`no code in (by family): ${Object.entries(fam).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`no checkable recipient statement: ${rows.filter((r) => r.unverifiable).map((r) => r.file).join(', ')}`);
  const other = rows.filter((r) => r.recipient && !r.classified).map((r) => r.file);
  lines.push(`class "other": ${other.join(', ')}`);
  console.log(lines.join('\n'));
  assert.ok(both / n >= 0.9, `right recipient and status for only ${pct(both)}`);
  assert.ok(bounce / n >= 0.95, `recognised only ${pct(bounce)}`);
});

const HAND: [string, { address: string; smtpCode?: number; enhancedCode?: string; class: string; kind?: string; action?: string }][] = [
  ['lhost-qmail-01.eml', { address: 'kijitora@example.ne.jp', smtpCode: 550, enhancedCode: '5.5.0', class: 'userunknown', kind: 'bounce' }],
  ['lhost-exim-01.eml', { address: 'kijitora@example.ed.jp', smtpCode: 550, enhancedCode: '5.7.0', class: 'policy', kind: 'bounce' }],
  ['lhost-gmail-01.eml', { address: 'userunknown@example.jp', smtpCode: 550, enhancedCode: '5.1.1', class: 'userunknown', kind: 'bounce' }],
  ['lhost-yahoo-01.eml', { address: 'kijitora@example.org', smtpCode: 550, enhancedCode: '5.1.1', class: 'userunknown', kind: 'bounce' }],
  ['lhost-exchange2003-01.eml', { address: 'kijitora@example.jp', class: 'userunknown', kind: 'bounce' }],
  ['lhost-dragonfly-01.eml', { address: 'pseudo-local-part@google.example.com', smtpCode: 550, enhancedCode: '5.7.26', class: 'policy' }],
  ['lhost-sendmail-01.eml', { address: 'userunknown@bouncehammer.jp', smtpCode: 550, enhancedCode: '5.1.1', class: 'userunknown', kind: 'dsn' }],
  ['lhost-office365-11.eml', { address: 'kijitora@cr3.neko.nyaan.jp', smtpCode: 550, enhancedCode: '5.1.1', class: 'userunknown', kind: 'dsn' }],
  ['lhost-amazonses-09.eml', { address: 'bounce@simulator.amazonses.com', smtpCode: 550, enhancedCode: '5.1.1', class: 'userunknown' }],
  ['rhost-google-05.eml', { address: 'kijitora@google.example.com', smtpCode: 552, enhancedCode: '5.2.2', class: 'mailboxfull', kind: 'dsn' }],
  ['lhost-exim-38.eml', { address: 'kijitora@example.co.jp', smtpCode: 450, class: 'temporary', action: 'delayed' }],
  ['lhost-qmail-08.eml', { address: 'shironeko@example.ad.jp', smtpCode: 552, class: 'mailboxfull' }],
  ['lhost-sendmail-15.eml', { address: 'kijitora@example.org', enhancedCode: '5.1.2', class: 'hostunknown' }],
  ['lhost-messagingserver-03.eml', { address: 'sabineko@example.org', smtpCode: 550, class: 'userunknown' }],
  ['lhost-opensmtpd-02.eml', { address: 'mailboxfull@example.jp', smtpCode: 550, enhancedCode: '5.2.2', class: 'mailboxfull' }],
];

for (const [file, want] of HAND) {
  test(`hand-checked sample ${file}`, { skip }, () => {
    const r = analyzeBounce(readFileSync(CORPUS + 'bounce/' + file));
    const rc = r.recipients[0];
    assert.ok(rc, 'a recipient');
    assert.equal(rc.address, want.address);
    if (want.smtpCode !== undefined) assert.equal(rc.smtpCode, want.smtpCode);
    if (want.enhancedCode !== undefined) assert.equal(rc.enhancedCode, want.enhancedCode);
    assert.equal(rc.class, want.class);
    if (want.kind) assert.equal(r.kind, want.kind);
    if (want.action) assert.equal(rc.action, want.action);
  });
}

test('auto-replies and ordinary messages are not bounces', { skip }, () => {
  const files = [
    ...readdirSync(CORPUS + 'bounce/')
      .filter((f) => f.startsWith('rfc3834-'))
      .map((f) => CORPUS + 'bounce/' + f),
    CORPUS + 'not-bounce/is-not-bounce-01.eml',
    CORPUS + 'not-bounce/is-not-bounce-02.eml',
  ];
  assert.ok(files.length >= 6);
  for (const f of files) {
    const r = analyzeBounce(readFileSync(f));
    assert.equal(r.isBounce, false, f);
    assert.equal(r.recipients.length, 0, f);
    assert.equal(r.class, f.includes('rfc3834') ? 'autoreply' : 'notabounce', f);
  }
  // rb-issue-368-bug.eml sits in not-bounce/, but it is a mailbox-full rejection notice from a
  // postmaster ("reject reason: Mailbox full / target mail address: …"); we report it as such.
  const r = analyzeBounce(readFileSync(CORPUS + 'not-bounce/rb-issue-368-bug.eml'));
  assert.equal(r.class, 'mailboxfull');
  assert.equal(r.recipients[0]?.address, 'xxxx@yyyyyy.net');
});

test('ARF samples: feedback type, recipient, source IP, Message-ID', { skip }, () => {
  const files = readdirSync(CORPUS + 'bounce/')
    .filter((f) => f.startsWith('arf-'))
    .sort();
  let withRcpt = 0;
  let withIP = 0;
  let withMid = 0;
  for (const f of files) {
    const raw = readFileSync(CORPUS + 'bounce/' + f);
    const a = parseArf(raw);
    assert.ok(a, `${f} parses as a complaint`);
    assert.ok(a.feedbackType, `${f} feedback type`);
    if (a.originalRcptTo) withRcpt++;
    if (a.sourceIP) withIP++;
    if (a.originalMessageID) withMid++;
    const b = analyzeBounce(raw);
    assert.equal(b.kind, 'complaint', f);
    assert.equal(b.isBounce, false, f);
    // Everything the sample states in its feedback-report part must come back.
    const text = raw.toString('latin1');
    const ft = /^Feedback-Type:\s*(\S+)/im.exec(text)?.[1];
    if (ft) assert.equal(a.feedbackType, ft.toLowerCase(), f);
    const ip = /^Source-IP:\s*([0-9a-fA-F.:]+)/im.exec(text)?.[1];
    if (ip) assert.equal(a.sourceIP, ip, f);
    const rcpt = /^Original-Rcpt-To:\s*<?([^\s>]+)/im.exec(text)?.[1];
    if (rcpt) assert.equal(a.originalRcptTo, rcpt, f);
  }
  console.log(`ARF/complaints: ${files.length} samples; recipient ${withRcpt}, source IP ${withIP}, Message-ID ${withMid}`);
  const a = parseArf(readFileSync(CORPUS + 'bounce/arf-16.eml'))!;
  assert.equal(a.format, 'arf');
  assert.equal(a.feedbackType, 'abuse');
  assert.equal(a.userAgent, 'ReturnPathFBL/1.0');
  assert.equal(a.originalRcptTo, 'kijitora@example.com');
  assert.equal(a.sourceIP, '192.0.2.1');
  assert.equal(a.originalMessageID, '<ffffffffffffffffffffffff0000000@example.jp>');
  assert.deepEqual(a.reportedDomain, ['example.com', 'example.org']);
  const j = parseArf(readFileSync(CORPUS + 'bounce/arf-22.eml'))!;
  assert.equal(j.format, 'jmrp');
  assert.equal(j.originalRcptTo, 'kijitora@example.com');
  assert.equal(j.sourceIP, '192.0.2.222');
  // A bounce is not a complaint.
  assert.equal(parseArf(readFileSync(CORPUS + 'bounce/lhost-postfix-01.eml')), undefined);
});

test('DSN parser on the corpus: every delivery-status report yields its Final-Recipient', { skip }, () => {
  const dir = CORPUS + 'bounce/';
  let reports = 0;
  let ok = 0;
  for (const f of readdirSync(dir)) {
    const raw = readFileSync(dir + f);
    const p = parseDsn(raw);
    if (!p) continue;
    reports++;
    const fin = /^Final-Recipient:\s*[^;\n]*;\s*<?([^\s>]+)/im.exec(raw.toString('latin1'))?.[1]?.toLowerCase();
    if (fin && p.recipients.some((r) => r.finalRecipient.toLowerCase() === fin)) ok++;
    else if (!fin) ok++;
  }
  console.log(`delivery-status reports: ${reports}, Final-Recipient recovered in ${ok}`);
  assert.ok(ok / reports >= 0.97);
});

/** Samples whose failed recipient's local part names the failure (sisimai's test addresses such as
 * mailboxfull@…, blocked@…): the sample states its class. Our class for each sisimai reason. */
const REASON_CLASSES: Record<string, string[]> = {
  userunknown: ['userunknown'],
  hasmoved: ['userunknown'],
  filtered: ['userunknown', 'policy'],
  syntaxerror: ['userunknown', 'other'],
  mailboxfull: ['mailboxfull'],
  hostunknown: ['hostunknown'],
  mesgtoobig: ['toolarge'],
  exceedlimit: ['toolarge'],
  blocked: ['blocked'],
  spamdetected: ['spam'],
  virusdetected: ['spam'],
  contenterror: ['spam', 'policy', 'other'],
  policyviolation: ['policy'],
  authfailure: ['policy'],
  securityerror: ['policy'],
  notaccept: ['policy', 'hostunknown'],
  norelaying: ['norelaying'],
  suspend: ['suspended'],
  expired: ['expired'],
  temperror: ['temporary'],
  systemfull: ['temporary', 'mailboxfull'],
  systemerror: ['other', 'temporary'],
  mailererror: ['other'],
  onhold: ['other'],
};

test('class agrees with the reason the sample names in its recipient address', { skip }, () => {
  const dir = CORPUS + 'bounce/';
  let n = 0;
  const wrong: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    const r = analyse(f);
    for (const x of r.recipients) {
      const want = REASON_CLASSES[x.address.split('@')[0]!.toLowerCase()];
      if (!want) continue;
      n++;
      if (!want.includes(x.class)) wrong.push(`${f} ${x.address}: ${x.class}`);
    }
  }
  console.log(`class check on ${n} recipients named after their reason: ${n - wrong.length} agree${wrong.length ? `; differ: ${wrong.join(', ')}` : ''}`);
  assert.ok(n >= 50);
  assert.ok((n - wrong.length) / n >= 0.9);
});

test('bounce corpus: what matching to sent messages can use (queue/incoming.ts)', { skip }, () => {
  // The cheap header-only gate before the full analysis, the original Message-ID and ENVID the
  // matching needs, and that analysing only the first MAX_REPORT_BYTES (256 KiB) changes nothing.
  const dir = CORPUS + 'bounce/';
  let n = 0;
  let gate = 0;
  let mid = 0;
  let envid = 0;
  let sameTruncated = 0;
  const complaints = readdirSync(dir).filter((f) => f.startsWith('arf-'));
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.eml') && !/^(arf|rfc3834)-/.test(f))) {
    const raw = readFileSync(dir + f);
    const r = analyzeBounce(raw);
    if (!r.isBounce) continue;
    n++;
    if (looksLikeReport(raw)) gate++;
    if (r.originalMessageID) mid++;
    if (r.envelopeID) envid++;
    const t = analyzeBounce(raw.subarray(0, 256 * 1024));
    if (t.recipients[0]?.address === r.recipients[0]?.address && t.recipients[0]?.status === r.recipients[0]?.status) sameTruncated++;
  }
  const gateArf = complaints.filter((f) => looksLikeReport(readFileSync(dir + f))).length;
  const notBounces = readdirSync(CORPUS + 'not-bounce/').filter((f) => f.startsWith('is-not-bounce'));
  const pct = (k: number) => `${k}/${n} (${((100 * k) / n).toFixed(1)} %)`;
  console.log(
    [
      `matching: of ${n} recognised bounces`,
      `  pass the header-only gate (MAIL FROM unknown): ${pct(gate)}; complaints ${gateArf}/${complaints.length}`,
      `  carry the original Message-ID:               ${pct(mid)}`,
      `  carry an ENVID (Original-Envelope-ID):       ${pct(envid)}`,
      `  same result from the first 256 KiB:          ${pct(sameTruncated)}`,
    ].join('\n'),
  );
  assert.ok(gate / n >= 0.99, `gate ${gate}/${n}`);
  assert.equal(gateArf, complaints.length);
  assert.ok(mid / n >= 0.85, `Message-ID ${mid}/${n}`);
  assert.equal(sameTruncated, n);
  // A null reverse path always passes; the corpus' ordinary messages do not.
  assert.equal(looksLikeReport(Buffer.from('Subject: hi\r\n\r\nhello\r\n'), ''), true);
  for (const f of notBounces) assert.equal(looksLikeReport(readFileSync(CORPUS + 'not-bounce/' + f), 'someone@example.org'), false, f);
});
