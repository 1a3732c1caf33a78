/**
 * Webapi end to end: Send to a local account, the queue delivers it (local transport), and the
 * recipient reads it back with MessageGet, MessageRawGet and MessagePartGet: the same subject,
 * addresses, text, HTML and file bytes as sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWebapiServer } from './helpers/webapi.js';
import type { Change } from '../store/changes.js';

test('Send → queue → local delivery → MessageGet/RawGet/PartGet with identical content', async () => {
  const ts = await startWebapiServer({
    accounts: {
      mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {} } },
      other: { Domain: 'example.com', Destinations: { 'other@example.com': {} } },
    },
    passwords: { other: 'otherpass' },
    noQueueScheduler: false,
  });
  try {
    // Wait for the delivery through the store's change bus (no sleeping).
    const delivered = new Promise<number>((resolve) => {
      ts.server.store.changes.subscribe('other', (c: Change) => {
        if (c.kind === 'add' && 'ids' in c && c.ids?.length) resolve(c.ids[0]!);
      });
    });
    const text = 'Hello Other,\n\nthis is a test with ünïcödé and a long line: ' + 'word '.repeat(40) + '\n-- \nmjl\n';
    const html = '<p>Hello <b>Other</b></p>\n<img src="cid:logo@example.com">\n';
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(Array.from({ length: 2000 }, (_, i) => i % 256))]);
    const pdf = Buffer.from('%PDF-1.4\n' + 'binary \x00\x01\x02 data\n'.repeat(50), 'latin1');
    const sent = await ts.client().send({
      To: [{ Name: 'Other Person', Address: 'other@example.com' }],
      Subject: 'Grüße from the webapi',
      Text: text,
      HTML: html,
      InlineFiles: [{ Name: 'logo.png', ContentType: 'image/png', ContentID: '<logo@example.com>', Data: png.toString('base64') }],
      AttachedFiles: [{ Name: 'report.pdf', Data: pdf.toString('base64') }],
      Extra: { ref: '1' },
    });
    const id = await delivered;
    const c = ts.client('other@example.com', 'otherpass');
    const g = await c.messageGet({ MsgID: id });
    assert.equal(g.Message.MessageID, sent.MessageID);
    assert.equal(g.Message.Subject, 'Grüße from the webapi');
    assert.deepEqual(g.Message.From, [{ Name: '', Address: 'mjl@example.com' }]);
    assert.deepEqual(g.Message.To, [{ Name: 'Other Person', Address: 'other@example.com' }]);
    assert.equal(g.Message.Text, text);
    assert.equal(g.Message.HTML, html);
    assert.equal(g.Meta.MailboxName, 'Inbox');
    assert.equal(g.Meta.MsgFrom, 'mjl@example.com');
    assert.equal(g.Structure.ContentType, 'multipart/mixed');
    assert.deepEqual(
      g.Structure.Parts.map((p) => p.ContentType),
      ['multipart/related', 'application/pdf'],
    );
    // Parts by 0-based path: mixed › related › alternative.
    assert.equal((await c.messagePartGet({ MsgID: id, PartPath: [0, 0, 0] })).toString('utf8'), text.replace(/\n/g, '\r\n'));
    assert.equal((await c.messagePartGet({ MsgID: id, PartPath: [0, 0, 1] })).toString('utf8'), html.replace(/\n/g, '\r\n'));
    assert.ok((await c.messagePartGet({ MsgID: id, PartPath: [0, 1] })).equals(png));
    assert.ok((await c.messagePartGet({ MsgID: id, PartPath: [1] })).equals(pdf));
    // The raw message is what was queued, after the delivery's own trace headers.
    const raw = await c.messageRawGet({ MsgID: id });
    const queuedRow = sent.Submissions[0]!;
    assert.equal(queuedRow.Address, 'other@example.com');
    const body = raw.toString('latin1');
    assert.match(body, /^Return-Path: <mjl@example\.com>\r\n/);
    assert.ok(body.includes(`Message-ID: ${sent.MessageID}\r\n`));
    assert.equal(raw.length, g.Meta.Size);
  } finally {
    await ts.stop();
  }
});
