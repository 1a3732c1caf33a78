// FETCH rendering against a real store with messages from the message/ fixture corpus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../store/store.js';
import type { Account } from '../../store/account.js';
import { parseBuffer } from '../../message/part.js';
import { formatBodyStructure, formatEnvelope } from '../../message/bodystructure.js';
import { formatImapValueBytes, type ImapValue } from '../../message/imapvalue.js';
import { FetchError, FetchRenderer, formatInternalDate, loadForFetch, sectionSpec } from './render.js';
import type { FetchAtt } from './types.js';

const fixture = (name: string) => readFileSync(new URL(`../../../testdata/message/${name}`, import.meta.url));

async function withAccount(fn: (a: Account, inbox: number) => Promise<void>, inlineMaxSize?: number): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-fetch-'));
  const s = await Store.open({ dataDir, inlineMaxSize });
  try {
    const a = s.account('a');
    await fn(a, a.mailbox('Inbox')!.id);
  } finally {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const wire = (items: ImapValue[], utf8 = false) => formatImapValueBytes(items, { utf8 }).toString('latin1');
const session = { utf8: false, rev2: true };

for (const inline of [65536, 0]) {
  test(`simple attributes, cached ENVELOPE/BODYSTRUCTURE, and the fallback without cache (inline ${inline})`, async () => {
    await withAccount(async (a, inbox) => {
      const data = fixture('mixed-attachment.eml');
      const parsed = parseBuffer(data);
      await a.deliver({ mailbox: 'Inbox', data, parsed, flags: ['seen', 'flagged'], keywords: ['$Forwarded'], receivedAt: new Date('2026-03-04T05:06:07Z') });
      await a.deliver({ mailbox: 'Inbox', data }); // no parse tree stored
      const atts: FetchAtt[] = [{ kind: 'UID' }, { kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }, { kind: 'BODYSTRUCTURE' }, { kind: 'MODSEQ' }];
      const msgs = loadForFetch(a, inbox, [[1, Infinity]], atts);
      assert.equal(msgs.length, 2);
      assert.equal(msgs[0]!.parsed, undefined, 'parse tree not loaded for these attributes');
      const r = new FetchRenderer(a, session);
      const env = formatEnvelope(parsed);
      const bs = formatBodyStructure(parsed, true);
      const expect = (m: (typeof msgs)[0], flags: string) =>
        `(UID ${m.uid} FLAGS (${flags}) INTERNALDATE "${formatInternalDate(m.receivedAt)}" RFC822.SIZE ${data.length} ENVELOPE ${env} BODYSTRUCTURE ${bs} MODSEQ (${m.modseq}))`;
      assert.equal(wire(await r.render(msgs[0]!, atts)), expect(msgs[0]!, '\\Seen \\Flagged $forwarded'));
      assert.equal(wire(await r.render(msgs[1]!, atts)), expect(msgs[1]!, ''), 'computed from the bytes when nothing is stored');
      assert.equal(formatInternalDate(new Date('2026-03-04T05:06:07Z')), '04-Mar-2026 05:06:07 +0000');
      // rev1 \Recent
      const r1 = new FetchRenderer(a, { utf8: false, rev2: false, isRecent: (uid) => uid === 2 });
      assert.equal(wire(await r1.render(msgs[1]!, [{ kind: 'FLAGS' }])), '(FLAGS (\\Recent))');
    }, inline);
  });
}

test('body sections, partial ranges, HEADER.FIELDS case-insensitive, MIME, TEXT, RFC822.*', async () => {
  await withAccount(async (a, inbox) => {
    const data = fixture('mixed-attachment.eml');
    const parsed = parseBuffer(data);
    await a.deliver({ mailbox: 'Inbox', data, parsed });
    const atts: FetchAtt[] = [
      { kind: 'BODY[]', section: { part: [] }, peek: true },
      { kind: 'BODY[]', section: { part: [] }, partial: { offset: 6, count: 5 }, peek: true },
      { kind: 'BODY[]', section: { part: [], text: 'HEADER.FIELDS', fields: ['subject', 'FROM', 'x-none'] }, peek: true },
      { kind: 'BODY[]', section: { part: [], text: 'HEADER.FIELDS.NOT', fields: ['Content-Type', 'to', 'from'] }, peek: false },
      { kind: 'BODY[]', section: { part: [1] }, peek: true },
      { kind: 'BODY[]', section: { part: [2], text: 'MIME' }, partial: { offset: 0, count: 25 }, peek: true },
      { kind: 'BODY[]', section: { part: [9] }, peek: true },
      { kind: 'BODY[]', section: { part: [], text: 'TEXT' }, partial: { offset: 100000, count: 5 }, peek: true },
      { kind: 'RFC822.HEADER' },
    ];
    const [m] = loadForFetch(a, inbox, [1], atts);
    assert.ok(m!.parsed, 'parse tree loaded for sections');
    const items = await new FetchRenderer(a, session).render(m!, atts);
    const s = data.toString('latin1');
    const hdr = s.slice(0, parsed.bodyOffset);
    assert.equal(
      wire(items),
      `(BODY[] {${data.length}}\r\n${s} BODY[]<6> {5}\r\ncarol ` +
        `BODY[HEADER.FIELDS (subject FROM x-none)] {44}\r\nFrom: carol@example.com\r\nSubject: report\r\n\r\n ` +
        `BODY[HEADER.FIELDS.NOT (Content-Type to from)] {19}\r\nSubject: report\r\n\r\n ` +
        `BODY[1] {13}\r\nSee attached. BODY[2.MIME]<0> {25}\r\nContent-Type: application BODY[9] NIL BODY[TEXT]<100000> "" ` +
        `RFC822.HEADER {${hdr.length}}\r\n${hdr})`,
    );
    assert.equal(sectionSpec({ part: [1, 2], text: 'HEADER.FIELDS', fields: ['a b', 'X'] }), '1.2.HEADER.FIELDS ("a b" X)');
  });
});

test('BINARY decodes the transfer encoding, BINARY.SIZE, unknown encodings give UNKNOWN-CTE', async () => {
  await withAccount(async (a, inbox) => {
    const data = fixture('mixed-attachment.eml');
    await a.deliver({ mailbox: 'Inbox', data, parsed: parseBuffer(data) });
    const odd = Buffer.from('Subject: x\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644\r\n');
    await a.deliver({ mailbox: 'Inbox', data: odd, parsed: parseBuffer(odd) });
    const atts: FetchAtt[] = [
      { kind: 'BINARY[]', part: [2], peek: true },
      { kind: 'BINARY.SIZE', part: [2] },
      { kind: 'BINARY[]', part: [2], partial: { offset: 1, count: 3 }, peek: true },
    ];
    const [m, m2] = loadForFetch(a, inbox, [[1, 2]], atts);
    const r = new FetchRenderer(a, session);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from([0, 1, 2, 3, 4])]);
    const got = formatImapValueBytes(await r.render(m!, atts));
    assert.deepEqual(got, Buffer.concat([Buffer.from(`(BINARY[2] ~{${pdf.length}}\r\n`), pdf, Buffer.from(` BINARY.SIZE[2] ${pdf.length} BINARY[2]<1> ~{3}\r\nPDF)`)]));
    await assert.rejects(r.render(m2!, [{ kind: 'BINARY[]', part: [1], peek: true }]), (e: unknown) => e instanceof FetchError && e.code === 'UNKNOWN-CTE');
    assert.throws(() => {
      throw new FetchError('UNKNOWN-CTE', 'x');
    }, FetchError);
  });
});

test('PREVIEW from the first text part (rfc8970), NIL without text, BODY without extension data', async () => {
  await withAccount(async (a, inbox) => {
    const alt = fixture('alternative.eml');
    await a.deliver({ mailbox: 'Inbox', data: alt, parsed: parseBuffer(alt) });
    const bin = Buffer.from('Subject: x\r\nContent-Type: image/png\r\n\r\nxxxx\r\n');
    await a.deliver({ mailbox: 'Inbox', data: bin, parsed: parseBuffer(bin) });
    const long = Buffer.from(`Subject: long\r\n\r\n${'word '.repeat(100)}\r\n`);
    await a.deliver({ mailbox: 'Inbox', data: long, parsed: parseBuffer(long) });
    const atts: FetchAtt[] = [{ kind: 'PREVIEW' }, { kind: 'BODY' }];
    const [m1, m2, m3] = loadForFetch(a, inbox, [[1, 3]], atts);
    const r = new FetchRenderer(a, session);
    const i1 = await r.render(m1!, atts);
    assert.equal(typeof i1[1], 'string');
    assert.ok((i1[1] as string).length > 0 && !/[\r\n]/.test(i1[1] as string));
    assert.equal(wire(i1).split(' BODY ')[1], formatBodyStructure(m1!.parsed as never, false) + ')');
    assert.equal((await r.render(m2!, atts))[1], null);
    const p3 = (await r.render(m3!, atts))[1] as string;
    assert.equal(p3.length, 200);
    assert.ok(p3.startsWith('word word'));
  });
});
