import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBase64, decodeCharset, decodeHeaderValue, decodeQuotedPrintable, decodeText, decodeTransfer, partByPath, sectionRange } from './decode.js';
import { parseBuffer } from './part.js';
import { extractText, htmlToText } from './text.js';
import { Base64Counter, QPDecoder } from './transfer.js';

describe('transfer decoding (rfc2045:6)', () => {
  it('base64, including broken input', () => {
    assert.equal(decodeBase64(Buffer.from('aGVs\r\nbG8=\r\n')).toString(), 'hello');
    assert.equal(decodeBase64(Buffer.from('aGVsbG8')).toString(), 'hello');
    assert.equal(decodeBase64(Buffer.from('a!G@V#s$b%G^8&')).toString(), 'hello');
    assert.equal(decodeBase64(Buffer.from('')).length, 0);
    assert.equal(decodeBase64(Buffer.from('Q')).length, 0);
    const c = new Base64Counter();
    c.write(Buffer.from('aGVs bG8 g!d29y bGQ='));
    assert.equal(c.size(), decodeBase64(Buffer.from('aGVs bG8 g!d29y bGQ=')).length);
  });
  it('quoted-printable (rfc2045:6.7 rules)', () => {
    assert.equal(decodeQuotedPrintable(Buffer.from('Caf=C3=A9')).toString(), 'Café');
    assert.equal(decodeQuotedPrintable(Buffer.from('soft=\r\nbreak')).toString(), 'softbreak');
    assert.equal(decodeQuotedPrintable(Buffer.from('soft=\nbreak')).toString(), 'softbreak');
    assert.equal(decodeQuotedPrintable(Buffer.from('padding=  \r\nx')).toString(), 'paddingx');
    assert.equal(decodeQuotedPrintable(Buffer.from('trailing   \r\nx\t\n')).toString(), 'trailing\r\nx\n');
    assert.equal(decodeQuotedPrintable(Buffer.from('a = b =ZZ =4 =')).toString(), 'a = b =ZZ =4 ');
    assert.equal(decodeQuotedPrintable(Buffer.from('lower=c3=a9')).toString(), 'loweré');
    assert.equal(decodeQuotedPrintable(Buffer.from('bare\rcr')).toString(), 'bare\rcr');
    assert.equal(decodeQuotedPrintable(Buffer.from('x =\r')).toString(), 'x ');
  });
  it('QP streaming in any split equals whole decoding', () => {
    const input = Buffer.from('Gr=FC=DFe  \r\nsoft=\r\nx=3D=Z =\t\r\n=4');
    const whole = decodeQuotedPrintable(input);
    for (let i = 0; i <= input.length; i++) {
      const d = new QPDecoder();
      d.write(input, 0, i);
      d.write(input, i, input.length);
      assert.equal(d.end(), whole.length, `split at ${i}`);
    }
  });
  it('QP fast path equals the byte-at-a-time state machine (random token soup)', () => {
    // One byte per write leaves the fast path nothing to recognise: every sequence goes through
    // the state machine, which is the reference.
    const tokens = ['a', 'Z', ' ', '\t', '\r', '\n', '\r\n', '=', '=3D', '=c3', '=4', '=Z', '=\r\n', '=\n', '  \r\n', '= \r\n', '=\t\n', '\xff'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 40 }), fc.nat(), (toks, cut) => {
        const input = Buffer.from(toks.join(''), 'latin1');
        const ref = Buffer.alloc(input.length);
        const slow = new QPDecoder(ref);
        for (let i = 0; i < input.length; i++) slow.write(input, i, i + 1);
        const expected = ref.subarray(0, slow.end());
        assert.deepEqual(decodeQuotedPrintable(input), expected);
        const at = input.length ? cut % (input.length + 1) : 0;
        const counter = new QPDecoder();
        counter.write(input, 0, at);
        counter.write(input, at);
        assert.equal(counter.end(), expected.length);
      }),
      { numRuns: 5000 },
    );
  });
  it('decodeTransfer dispatches on encoding, case-insensitive', () => {
    assert.equal(decodeTransfer('BASE64', Buffer.from('aGk=')).toString(), 'hi');
    assert.equal(decodeTransfer(' Quoted-Printable ', Buffer.from('h=69')).toString(), 'hi');
    assert.equal(decodeTransfer('8bit', Buffer.from('hi')).toString(), 'hi');
    assert.equal(decodeTransfer(null, Buffer.from('hi')).toString(), 'hi');
    assert.equal(decodeTransfer('x-uuencode', Buffer.from('hi')).toString(), 'hi');
  });
});

describe('charsets and rfc2047', () => {
  it('decodeCharset with ICU charsets and fallbacks', () => {
    assert.equal(decodeCharset(Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65]), 'ISO-8859-1'), 'Grüße');
    assert.equal(decodeCharset(Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]), 'koi8-r'), 'Привет');
    assert.equal(decodeCharset(Buffer.from([0x82, 0xa0]), 'shift_jis'), 'あ');
    assert.equal(decodeCharset(Buffer.from('é'), 'x-unknown'), 'é');
    assert.equal(decodeCharset(Buffer.from([0xe9]), 'x-unknown'), 'é');
    assert.equal(decodeCharset(Buffer.from('é'), 'us-ascii'), 'é');
    assert.equal(decodeCharset(Buffer.from([0xe9]), null), 'é');
  });
  it('decodeHeaderValue: Q and B, several charsets, adjacent words joined (rfc2047:6.2)', () => {
    assert.equal(decodeHeaderValue('=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?='), 'Keld Jørn Simonsen');
    assert.equal(decodeHeaderValue('=?UTF-8?B?0J/RgNC40LLQtdGC?='), 'Привет');
    assert.equal(decodeHeaderValue('=?koi8-r?B?8NLJ18XU?='), 'Привет');
    assert.equal(decodeHeaderValue('=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?b?='), 'ab');
    assert.equal(decodeHeaderValue('=?ISO-8859-1?Q?a?= b'), 'a b');
    assert.equal(decodeHeaderValue('plain text'), 'plain text');
    assert.equal(decodeHeaderValue('=?utf-8?Q?broken'), '=?utf-8?Q?broken');
  });
});

const msg = Buffer.from(
  [
    'Subject: s',
    'Content-Type: multipart/mixed; boundary=b',
    '',
    '--b',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Gr=FC=DFe',
    '--b',
    'Content-Type: message/rfc822',
    '',
    'Subject: inner',
    'Content-Type: multipart/alternative; boundary=c',
    '',
    '--c',
    'Content-Type: text/plain',
    '',
    'inner plain',
    '--c',
    'Content-Type: text/html',
    '',
    '<p>inner &amp; <b>html</b></p>',
    '--c--',
    '--b',
    'Content-Type: message/rfc822',
    '',
    'Subject: single',
    '',
    'single body',
    '--b',
    'Content-Type: text/html',
    '',
    '<style>x{}</style><div>Hello&nbsp;<i>world</i></div>',
    '--b',
    'Content-Type: text/plain',
    'Content-Disposition: attachment',
    '',
    'attached text',
    '--b--',
    '',
  ].join('\r\n'),
);

describe('sections (rfc9051:6.4.5)', () => {
  const root = parseBuffer(msg);
  const get = (s: string) => {
    const r = sectionRange(root, s);
    return r ? msg.subarray(r.start, r.end).toString() : null;
  };
  it('root sections', () => {
    assert.equal(get(''), msg.toString());
    assert.equal(get('HEADER'), 'Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n');
    assert.ok(get('TEXT')!.startsWith('--b\r\n'));
    assert.equal(get('MIME'), null);
  });
  it('part numbers, MIME, HEADER/TEXT of message parts', () => {
    assert.equal(get('1'), 'Gr=FC=DFe');
    assert.equal(get('1.MIME'), 'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n');
    assert.equal(get('2.HEADER'), 'Subject: inner\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n');
    assert.equal(get('2.1'), 'inner plain');
    assert.equal(get('2.2'), '<p>inner &amp; <b>html</b></p>');
    assert.ok(get('2.TEXT')!.startsWith('--c\r\n') && get('2.TEXT')!.endsWith('--c--'));
    assert.equal(get('3.1'), 'single body'); // non-multipart embedded message: part 1 is its body
    assert.equal(get('3.TEXT'), 'single body');
    assert.equal(get('1.HEADER'), null);
    assert.equal(get('9'), null);
    assert.equal(get('2.3'), null);
    assert.equal(get('0'), null);
    assert.equal(get('1.2'), null);
    assert.equal(get('1.'), null);
    assert.equal(get('.TEXT'), null);
    assert.equal(get('2.TEXT.MIME'), null);
    assert.equal(get('text'), get('TEXT'));
    assert.equal(get('HEADER.FIELDS'), get('HEADER'));
    assert.equal(get('2.HEADER.FIELDS.NOT'), get('2.HEADER'));
  });
  it('single-part message: part 1 is the body', () => {
    const b = Buffer.from('Subject: x\r\n\r\nbody\r\n');
    const r = parseBuffer(b);
    assert.deepEqual(sectionRange(r, '1'), { start: 14, end: 20 });
    assert.equal(partByPath(r, [1]), r);
    assert.equal(partByPath(r, [2]), null);
  });
  it('decodeText uses the charset', () => {
    const p = root.parts[0]!;
    const bytes = decodeTransfer(p.contentTransferEncoding, msg.subarray(p.bodyOffset, p.endOffset));
    assert.equal(decodeText(p, bytes), 'Grüße');
  });
});

describe('extractText', () => {
  it('text/plain, html stripped, alternatives once, embedded messages, no attachments, capped', () => {
    const root = parseBuffer(msg);
    assert.equal(extractText(msg, root), 'Grüße\ninner plain\nsingle body\nHello world');
    assert.equal(extractText(msg, root, 8), 'Grüße\nin');
  });
  it('htmlToText is linear on hostile input', () => {
    const t = Date.now();
    htmlToText('<script>'.repeat(100000));
    htmlToText('<!--'.repeat(100000));
    htmlToText('<a '.repeat(100000));
    assert.ok(Date.now() - t < 1000);
  });
  it('htmlToText', () => {
    assert.equal(htmlToText('<html><head><title>t</title></head><body><p>a &lt; b</p><script>x()</script>c&#233;&#x41;</body></html>'), 'a < b\ncéA');
  });
});
