/**
 * A realistic, varied mailbox for benchmarks: deterministic (seeded) messages of different sizes
 * and shapes — plain text, quoted-printable, multipart/alternative with HTML, multipart/mixed
 * with base64 attachments, forwarded message/rfc822, mailing-list and reply headers, Received
 * and DKIM-Signature stacks, rfc2047 and raw UTF-8 (non-ASCII) subjects and names.
 */

/** Small seeded PRNG (mulberry32): the same mailbox on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there been one all ' +
  'would their we him more when will who so about if out up said what its into than them can only other new some could time these two may then ' +
  'first any like now my such make over our even most made after also did many before must through back years where much your way well down ' +
  'meeting project budget report deadline review schedule invoice customer release server network update quarterly planning design proposal ' +
  'contract agenda summary feedback priority estimate milestone roadmap analysis forecast approval migration deployment incident'
).split(' ');
const NAMES = ['Alice Martin', 'Bob Chen', 'Carol Jones', 'Dave Smith', 'Eve Müller', 'Frank Dubois', 'Grace Kim', 'Heidi Østergaard', 'Ivan Petrov', 'Judy García', '山田 太郎', 'Zoë Brown'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'corp.example', 'mail.example.co.uk'];
const SUBJECTS_UTF8 = ['Café meeting – agenda', 'Grüße aus München', 'Résumé attached', '会議の議事録', 'Ånswer: naïve question', 'Привет, как дела?'];

/** The rare word SEARCH TEXT looks for: in exactly `RARE_COUNT` messages of the mailbox. */
export const RARE_WORD = 'xylophonist';
export const RARE_COUNT = 5;

function words(r: () => number, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(r() * WORDS.length)]!);
  return out.join(' ');
}

function paragraph(r: () => number, chars: number): string {
  let s = '';
  while (s.length < chars) {
    const line = words(r, 8 + Math.floor(r() * 6));
    s += line.charAt(0).toUpperCase() + line.slice(1) + '.\r\n';
  }
  return s;
}

function addr(r: () => number): { name: string; email: string } {
  const name = NAMES[Math.floor(r() * NAMES.length)]!;
  const local = name.toLowerCase().normalize('NFKD').replace(/[^a-z]+/g, '.').replace(/^\.|\.$/g, '') || 'user';
  return { name, email: `${local}@${DOMAINS[Math.floor(r() * DOMAINS.length)]}` };
}

/** rfc2047 B-encoding of a non-ASCII phrase. */
function encWord(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s : `=?utf-8?b?${Buffer.from(s).toString('base64')}?=`;
}

function base64Lines(b: Buffer): string {
  return b.toString('base64').replace(/.{76}/g, '$&\r\n') + '\r\n';
}

function qp(s: string): string {
  return Buffer.from(s)
    .toString('latin1')
    .replace(/[=\x80-\xff]/g, (c) => '=' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** Message i of the generated mailbox (seeded by i). */
export function makeMessage(i: number, total: number): Buffer {
  const r = rng(i * 7919 + 17);
  const from = addr(r);
  const to = addr(r);
  const date = new Date(Date.UTC(2025, 0, 1) + i * 3_600_000 + Math.floor(r() * 3_600_000));
  const kind = r();
  const utf8Subject = r() < 0.08;
  const rawUtf8 = utf8Subject && r() < 0.3;
  let subject = utf8Subject ? SUBJECTS_UTF8[Math.floor(r() * SUBJECTS_UTF8.length)]! : words(r, 3 + Math.floor(r() * 6));
  if (r() < 0.3) subject = 'Re: ' + subject;
  const rare = i % Math.floor(total / RARE_COUNT) === 7 ? ` ${RARE_WORD} ` : '';
  // Body size: mostly small, a long tail (like real mailboxes).
  const u = r();
  const textSize = u < 0.6 ? 300 + Math.floor(r() * 2000) : u < 0.9 ? 2000 + Math.floor(r() * 8000) : 10_000 + Math.floor(r() * 40_000);
  const text = paragraph(r, textSize) + rare + '\r\n';

  let h = '';
  const hops = 1 + Math.floor(r() * 4);
  for (let k = 0; k < hops; k++) {
    h += `Received: from mx${k}.${DOMAINS[k % DOMAINS.length]} (mx${k}.${DOMAINS[k % DOMAINS.length]} [192.0.2.${k + 1}])\r\n\tby mail.example.com with ESMTPS id ${i}x${k}; ${date.toUTCString().replace('GMT', '+0000')}\r\n`;
  }
  if (r() < 0.6) h += `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${from.email.split('@')[1]}; s=sel;\r\n\th=from:to:subject:date:message-id; bh=${Buffer.from(String(i)).toString('base64')}=;\r\n\tb=${base64Lines(Buffer.alloc(128, i % 251)).replace(/\r\n/g, '\r\n\t').trimEnd()}\r\n`;
  h += `From: ${rawUtf8 ? from.name : encWord(from.name)} <${from.email}>\r\n`;
  h += `To: ${encWord(to.name)} <${to.email}>\r\n`;
  if (r() < 0.3) h += `Cc: ${encWord(addr(r).name)} <${addr(r).email}>, ${addr(r).email}\r\n`;
  if (r() < 0.1) h += `Reply-To: ${addr(r).email}\r\n`;
  h += `Subject: ${rawUtf8 ? subject : encWord(subject)}\r\n`;
  h += `Date: ${date.toUTCString().replace('GMT', '+0000')}\r\n`;
  h += `Message-ID: <${i}.${Math.floor(r() * 1e9)}@${from.email.split('@')[1]}>\r\n`;
  if (subject.startsWith('Re: ')) h += `In-Reply-To: <${i - 1}.1@example.org>\r\nReferences: <${i - 2}.1@example.org> <${i - 1}.1@example.org>\r\n`;
  if (r() < 0.2) h += `List-Id: Project discussion <project.lists.example.org>\r\nList-Unsubscribe: <mailto:leave@lists.example.org>\r\n`;
  h += 'MIME-Version: 1.0\r\n';

  if (kind < 0.45) {
    if (r() < 0.3) return Buffer.from(`${h}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${qp(text)}`);
    return Buffer.from(`${h}Content-Type: text/plain; charset=utf-8\r\n\r\n${text}`);
  }
  const html = `<html><body><p>${text.replace(/\r\n/g, '</p>\r\n<p>')}</p></body></html>\r\n`;
  const alt = `Content-Type: multipart/alternative; boundary="alt-${i}"\r\n\r\n--alt-${i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n--alt-${i}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${qp(html)}\r\n--alt-${i}--\r\n`;
  if (kind < 0.75) return Buffer.from(`${h}${alt}`);
  if (kind < 0.8) {
    const inner = makeMessage(i + total * 3, total);
    return Buffer.concat([
      Buffer.from(`${h}Content-Type: multipart/mixed; boundary="mix-${i}"\r\n\r\n--mix-${i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nForwarded message below.\r\n--mix-${i}\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n`),
      inner,
      Buffer.from(`\r\n--mix-${i}--\r\n`),
    ]);
  }
  // Attachments: 1-2 base64 parts of 2-120 KiB.
  let mixed = `${h}Content-Type: multipart/mixed; boundary="mix-${i}"\r\n\r\n--mix-${i}\r\n${alt}`;
  const natt = 1 + Math.floor(r() * 2);
  for (let k = 0; k < natt; k++) {
    const size = 2048 + Math.floor(r() * r() * 120 * 1024);
    const data = Buffer.alloc(size);
    for (let j = 0; j < size; j += 4) data.writeUInt32LE(Math.floor(r() * 0xffffffff), Math.min(j, size - 4));
    const name = k === 0 ? 'report.pdf' : 'photo.jpg';
    const type = k === 0 ? 'application/pdf' : 'image/jpeg';
    mixed += `\r\n--mix-${i}\r\nContent-Type: ${type}; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(data)}`;
  }
  mixed += `\r\n--mix-${i}--\r\n`;
  return Buffer.from(mixed);
}
