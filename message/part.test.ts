import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBodyStructure } from './bodystructure.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MAX_DEPTH, MAX_HEADER_SIZE, MAX_PARTS, LINE_FRAGMENT, PartParser, PartWritable, parseBuffer, type Part } from './part.js';

const crlf = (...l: string[]) => Buffer.from(l.join('\r\n'));

describe('PartParser specifics', () => {
  it('Part is plain JSON data', () => {
    const b = crlf('Content-Type: multipart/mixed; boundary=x', '', '--x', 'Content-Type: message/rfc822', '', 'Subject: a', '', 'b', '--x--', '');
    const p = parseBuffer(b);
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
  });

  it('caps nesting depth at MAX_DEPTH without throwing', () => {
    const n = 300;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(`Content-Type: multipart/mixed; boundary=b${i}`, '', `--b${i}`);
    parts.push('', 'leaf');
    for (let i = n - 1; i >= 0; i--) parts.push(`--b${i}--`);
    const p = parseBuffer(crlf(...parts));
    let depth = 0;
    let cur: Part = p;
    while (cur.parts[0]) {
      cur = cur.parts[0];
      depth++;
    }
    assert.equal(depth, MAX_DEPTH);
    assert.equal(cur.depthLimited, true);
    assert.equal(cur.mediaType, 'MULTIPART');
    // BODYSTRUCTURE still serializes (the depth-limited multipart shows as a basic part).
    assert.ok(formatBodyStructure(p).length > 0);
  });

  it('nested message/rfc822 is also depth-limited', () => {
    const s = 'Content-Type: message/rfc822\r\n\r\n'.repeat(200) + 'Subject: deep\r\n\r\nx';
    const p = parseBuffer(Buffer.from(s));
    let d = 0;
    let cur: Part = p;
    while (cur.message) {
      cur = cur.message;
      d++;
    }
    assert.equal(d, MAX_DEPTH);
    assert.equal(cur.depthLimited, true);
  });

  it('endless header: kept up to MAX_HEADER_SIZE, offsets stay exact', () => {
    const big = 'X-Big: ' + 'a'.repeat(100) + '\r\n';
    const count = Math.ceil((MAX_HEADER_SIZE * 1.5) / big.length);
    const b = Buffer.from('Subject: first\r\n' + big.repeat(count) + 'Subject: late\r\n\r\nbody');
    const p = parseBuffer(b);
    assert.equal(p.headerTruncated, true);
    assert.equal(p.envelope!.subject, 'first');
    assert.equal(p.bodyOffset, b.length - 4);
    assert.equal(p.endOffset, b.length);
  });

  it('header line without any line break', () => {
    const b = Buffer.from('Subject: ' + 'x'.repeat(3 * LINE_FRAGMENT));
    const p = parseBuffer(b);
    assert.equal(p.envelope!.subject, 'x'.repeat(3 * LINE_FRAGMENT));
    assert.equal(p.headerUnterminated, true);
  });

  it('long body lines (> LINE_FRAGMENT) and delimiters after them', () => {
    const long = 'y'.repeat(LINE_FRAGMENT * 2 + 7);
    const b = crlf('Content-Type: multipart/mixed; boundary=q', '', '--q', '', long, '--q', 'Content-Transfer-Encoding: base64', '', 'QUJD'.repeat(5000), '--q--');
    const p = parseBuffer(b);
    assert.equal(p.parts.length, 2);
    assert.equal(b.subarray(p.parts[0]!.bodyOffset, p.parts[0]!.endOffset).toString(), long);
    assert.equal(p.parts[0]!.rawLineCount, 1);
    assert.equal(p.parts[1]!.decodedSize, 15000);
    assert.equal(p.missingClosingBoundary, undefined);
  });

  it('a 20 MB body without line breaks parses quickly', () => {
    const b = Buffer.concat([Buffer.from('Subject: x\r\n\r\n'), Buffer.alloc(20 * 1024 * 1024, 0x61)]);
    const t = Date.now();
    const p = parseBuffer(b);
    assert.equal(p.endOffset, b.length);
    assert.equal(p.rawLineCount, 1);
    assert.ok(Date.now() - t < 2000);
  });

  it('flags bare CR, bare LF and 8-bit headers', () => {
    const p = parseBuffer(Buffer.from('Subject: Gr\xfc\r\n\nbody\rmore\r\n', 'latin1'));
    assert.equal(p.bareCR, true);
    assert.equal(p.bareLF, true);
    assert.equal(p.header8bit, true);
    assert.equal(p.envelope!.subject, 'Grü');
    const q = parseBuffer(crlf('Subject: x', '', 'body', ''));
    assert.equal(q.bareCR, undefined);
    assert.equal(q.bareLF, undefined);
  });

  it('encoded message/rfc822 is a leaf', () => {
    const p = parseBuffer(crlf('Content-Type: message/rfc822', 'Content-Transfer-Encoding: base64', '', 'U3ViamVjdDogeA0KDQp4'));
    assert.equal(p.encodedMessage, true);
    assert.equal(p.message, undefined);
    assert.equal(p.decodedSize, 15);
  });

  it('message/global is descended into (rfc6532:3.7)', () => {
    const p = parseBuffer(crlf('Content-Type: message/global', '', 'Subject: Grüße', 'From: jörg@bücher.example', '', 'x'));
    assert.equal(p.message!.envelope!.subject, 'Grüße');
    // Sizes by hand: "Subject: Grüße\r\n" 18 + "From: jörg@bücher.example\r\n" 29 + "\r\n" 2 + "x" 1 = 50 bytes, 4 lines.
    const env = '(NIL "Grüße" ((NIL NIL "jörg" "bücher.example")) ((NIL NIL "jörg" "bücher.example")) ((NIL NIL "jörg" "bücher.example")) NIL NIL NIL NIL NIL)';
    assert.equal(formatBodyStructure(p, true, { utf8: true }), `("MESSAGE" "GLOBAL" NIL NIL NIL "7BIT" 50 ${env} ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)`);
    // Without UTF8=ACCEPT, non-ASCII strings become literals.
    assert.ok(formatBodyStructure(p).includes('(NIL {7}\r\nGrüße ((NIL NIL {5}\r\njörg {15}\r\nbücher.example))'));
  });

  it('delimiter inside a part header ends the header; epilogue delimiters reopen leniently', () => {
    const b = crlf('Content-Type: multipart/mixed; boundary=z', '', '--z', 'Content-Type: text/plain', '--z', '', 'second', '--z--', 'epi', '--z', '', 'after close', '--z--');
    const p = parseBuffer(b);
    assert.equal(p.parts.length, 3);
    assert.equal(p.parts[0]!.headerUnterminated, true);
    assert.equal(p.parts[0]!.bodyOffset, p.parts[0]!.endOffset);
    assert.equal(b.subarray(p.parts[2]!.bodyOffset, p.parts[2]!.endOffset).toString(), 'after close');
  });

  it('outer delimiter right after an empty part: parents still contain children', () => {
    // Inner text part has an empty body (its header's blank line is followed by the delimiter).
    const a = crlf('Content-Type: multipart/mixed; boundary=o', '', '--o', 'Content-Type: multipart/mixed; boundary=i', '', '--i', 'Content-Type: text/plain', '', '--o--');
    const pa = parseBuffer(a);
    const inner = pa.parts[0]!;
    const leaf = inner.parts[0]!;
    assert.equal(leaf.bodyOffset, leaf.endOffset);
    assert.equal(inner.endOffset, leaf.endOffset);
    assert.equal(inner.missingClosingBoundary, true);
    // A delimiter directly after a delimiter: the new part is empty.
    const b = crlf('Content-Type: multipart/mixed; boundary=o', '', '--o', 'Content-Type: multipart/mixed; boundary=i', '', '--i', '--o--');
    const pb = parseBuffer(b);
    assert.equal(pb.parts[0]!.parts[0]!.headerOffset, pb.parts[0]!.parts[0]!.endOffset);
    assert.ok(pb.parts[0]!.endOffset >= pb.parts[0]!.parts[0]!.endOffset);
    // Embedded message with empty body right before a delimiter.
    const c = crlf('Content-Type: multipart/mixed; boundary=o', '', '--o', 'Content-Type: message/rfc822', '', 'Subject: x', '', '--o--');
    const pc = parseBuffer(c);
    assert.equal(pc.parts[0]!.endOffset, pc.parts[0]!.message!.endOffset);
    assert.equal(pc.parts[0]!.message!.envelope!.subject, 'x');
  });

  it('wrong boundary parameter: one text part', () => {
    const p = parseBuffer(crlf('Content-Type: multipart/mixed; boundary=nothere', '', '--other', 'x', '--other--'));
    assert.equal(p.mediaType, 'TEXT');
    assert.equal(p.boundaryNotFound, true);
    assert.equal(p.rawLineCount, 3);
  });

  it('invalid Content-Type falls back to text/plain', () => {
    const p = parseBuffer(crlf('Content-Type: garbage', '', 'x'));
    assert.equal(p.mediaType, 'TEXT');
    assert.equal(p.mediaSubType, 'PLAIN');
    assert.equal(p.badContentType, true);
  });

  it('caps the number of parts at MAX_PARTS', () => {
    const b = Buffer.from('Content-Type: multipart/mixed; boundary=m\r\n\r\n' + '--m\r\n\r\nx\r\n'.repeat(MAX_PARTS + 10) + '--m--\r\n');
    const p = parseBuffer(b);
    assert.equal(p.parts.length, MAX_PARTS - 1); // the root counts as a part too
    assert.equal(p.partsLimited, true);
    assert.equal(p.endOffset, b.length);
  });

  it('PartWritable parses a piped stream', async () => {
    const b = crlf('Subject: s', 'Content-Type: multipart/mixed; boundary=w', '', '--w', '', 'a', '--w--', '');
    const w = new PartWritable();
    await pipeline(Readable.from([b.subarray(0, 7), b.subarray(7, 30), b.subarray(30)]), w);
    assert.deepEqual(w.part, parseBuffer(b));
  });

  it('write after end throws, end is idempotent', () => {
    const pp = new PartParser();
    pp.write(Buffer.from('a: b\r\n\r\nc'));
    const p = pp.end();
    assert.equal(pp.end(), p);
    assert.throws(() => pp.write(Buffer.from('x')));
  });

  it('throughput: typical 4 KiB messages (prints rate)', () => {
    const text = ('Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n').repeat(20);
    const b = crlf(
      'Received: from mx.example.org (mx.example.org [192.0.2.1]) by mail.example.com with ESMTPS id abc; Mon, 1 Jan 2024 00:00:00 +0000',
      'DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; h=from:to:subject; bh=aaaa; b=' + 'b'.repeat(300),
      'From: "Sender Name" <sender@example.org>',
      'To: rcpt@example.com, Other <other@example.com>',
      'Subject: =?utf-8?q?Hello_there?=',
      'Date: Mon, 1 Jan 2024 00:00:00 +0000',
      'Message-ID: <abc@example.org>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="=_b"',
      '',
      '--=_b',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      text,
      '--=_b',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>' + text + '</p>',
      '--=_b--',
      '',
    );
    const n = 3000;
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) parseBuffer(b);
    const secs = Number(process.hrtime.bigint() - t) / 1e9;
    const rate = n / secs;
    console.log(`# parsed ${n} messages of ${b.length} bytes: ${Math.round(rate)} msgs/s`);
    // Only a sanity bound: the test machine is shared and noisy. Unloaded, this is ~20k msgs/s.
    assert.ok(rate > 300, `rate ${rate}`);
  });
});
