// Streaming MIME structure parser with byte offsets: rfc5322:2.1 (header/body), rfc2045 (MIME
// header fields), rfc2046:5.1 (multipart), rfc2046:5.2.1 and rfc6532:3.7 (message/rfc822 and
// message/global, descended into). Modelled on mox's message.Part; see README.md.
//
// Input is fed in chunks (Buffers) and scanned for line ends with indexOf; nothing is allocated per
// byte. Lines are cut into fragments of at most LINE_FRAGMENT bytes at positions that depend only on
// the line, never on how the input was chunked, so chunked and whole-buffer parsing give identical
// results. Malformed input never throws.

import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { decodeCharset } from './charset.js';
import { type Envelope, envelopeFromHeader } from './envelope.js';
import { has8bit, type Header, parseHeader, parseParamValue } from './header.js';
import { B64, Base64Counter, QPDecoder } from './transfer.js';

/** A header block larger than this is not kept in memory: it is still skipped to its end (offsets
 * stay exact) but further fields are ignored and `headerTruncated` is set. Real headers are a few
 * KiB; 1 MiB leaves room for huge DKIM/ARC/Received stacks while bounding memory per delivery. */
export const MAX_HEADER_SIZE = 1024 * 1024;

/** Multipart/message nesting deeper than this is not descended into (the part becomes a leaf and
 * gets `depthLimited`). Every level costs a boundary comparison per line and recursion in consumers
 * (BODYSTRUCTURE); no legitimate mail nests anywhere near 50 deep, abusive mail can nest thousands. */
export const MAX_DEPTH = 50;

/** At most this many parts per message; further delimiter lines are treated as body text. Bounds
 * the size of the stored Part JSON (it is kept per message in SQLite). */
export const MAX_PARTS = 10000;

/** Lines are processed in fragments of at most this many bytes, bounding memory for data without
 * line breaks. A boundary line must fit (rfc2046:5.1.1 limits boundaries to 70 characters). */
export const LINE_FRAGMENT = 8192;

/** Longest boundary parameter accepted; rfc2046:5.1.1 allows 70, senders exceed it in practice. */
export const MAX_BOUNDARY_LENGTH = 998;

/** A MIME part (or the whole message) with absolute byte offsets. Plain JSON data. */
export interface Part {
  /** Start of this part's header. */
  headerOffset: number;
  /** Start of the body (just after the blank line ending the header). */
  bodyOffset: number;
  /** End of the body, exclusive. For parts in a multipart, the line break before the next
   * delimiter line belongs to the delimiter (rfc2046:5.1.1) and is not included. */
  endOffset: number;
  /** Text lines in the body: line feeds in [bodyOffset, endOffset) plus one for a final line
   * without line feed. IMAP body-fld-lines. */
  rawLineCount: number;
  /** Body size after transfer decoding (IMAP BINARY.SIZE); raw size for multipart/message parts. */
  decodedSize: number;
  /** Upper-case media type and subtype, e.g. TEXT and PLAIN. */
  mediaType: string;
  mediaSubType: string;
  /** Content-Type parameters, keys lower-case, rfc2231 continuations/charsets decoded. */
  contentTypeParams: Record<string, string>;
  contentId: string | null;
  contentDescription: string | null;
  /** Upper-case, e.g. "BASE64"; null when the header is absent (IMAP then says 7BIT). */
  contentTransferEncoding: string | null;
  /** Upper-case disposition type, e.g. "ATTACHMENT". */
  contentDisposition: string | null;
  contentDispositionParams: Record<string, string>;
  contentLanguage: string[] | null;
  contentLocation: string | null;
  contentMD5: string | null;
  /** For the root and for message/rfc822 and message/global parts (of the embedded message). */
  envelope?: Envelope;
  /** Children of a multipart. */
  parts: Part[];
  /** The embedded message of a message/rfc822 or message/global part. */
  message?: Part;

  // Oddities, only present when true.
  /** Root only: a line ended in LF without CR somewhere in the message. */
  bareLF?: boolean;
  /** Root only: a CR not followed by LF somewhere in the message. */
  bareCR?: boolean;
  /** Header larger than MAX_HEADER_SIZE; fields after the limit were ignored. */
  headerTruncated?: boolean;
  /** Header ended by end of input or a boundary instead of a blank line. */
  headerUnterminated?: boolean;
  /** Header contains bytes >= 0x80 (rfc6532 UTF-8 or broken). */
  header8bit?: boolean;
  /** Content-Type present but unparsable; defaults were used. */
  badContentType?: boolean;
  /** Multipart ended without its close delimiter (rfc2046:5.1.1). */
  missingClosingBoundary?: boolean;
  /** Multipart without (usable) boundary parameter: parsed as a single TEXT/PLAIN part. */
  boundaryMissing?: boolean;
  /** Multipart whose boundary never occurs: parsed as a single TEXT/PLAIN part. */
  boundaryNotFound?: boolean;
  /** Not descended into because of MAX_DEPTH. */
  depthLimited?: boolean;
  /** message/rfc822 or message/global with a base64/QP transfer encoding: not descended into. */
  encodedMessage?: boolean;
  /** More than MAX_PARTS parts; later delimiters were treated as text. */
  partsLimited?: boolean;
}

const enum Kind {
  Leaf,
  Multi,
  Message,
}

const enum Phase {
  Preamble,
  InChild,
  Epilogue,
}

interface Frame {
  part: Part;
  depth: number;
  inHeader: boolean;
  hdr: Buffer[];
  hdrLen: number;
  isMessage: boolean; // root or embedded message: gets an envelope
  inDigest: boolean; // child of multipart/digest: default type message/rfc822 (rfc2046:5.1.5)
  kind: Kind;
  boundary: Buffer | null; // "--" + boundary
  phase: Phase;
  bodyStartLine: number;
  b64: Base64Counter | null;
  qp: QPDecoder | null;
  heldEol: number; // line-end bytes not yet fed to the decoder (they may belong to a delimiter)
}

function newPart(offset: number): Part {
  return {
    headerOffset: offset,
    bodyOffset: offset,
    endOffset: offset,
    rawLineCount: 0,
    decodedSize: 0,
    mediaType: 'TEXT',
    mediaSubType: 'PLAIN',
    contentTypeParams: {},
    contentId: null,
    contentDescription: null,
    contentTransferEncoding: null,
    contentDisposition: null,
    contentDispositionParams: {},
    contentLanguage: null,
    contentLocation: null,
    contentMD5: null,
    parts: [],
  };
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const CRLF_BYTES = Buffer.from('\r\n');
/** A line starting with "--" after a line end: a possible delimiter line (rfc2046:5.1.1). */
const LF_DASH_DASH = Buffer.from('\n--');
/** A blank line after a line end: the end of a header. */
const LF_LF = Buffer.from('\n\n');
const LF_CRLF = Buffer.from('\n\r\n');

function parseValue(v: string): { value: string; params: Record<string, string> } | null {
  try {
    return parseParamValue(v, decodeCharset);
  } catch {
    return null;
  }
}

/** Fills the MIME fields of a part from its header (rfc2045:5, 6, 7, 8; rfc2183; rfc3282; rfc2557; rfc1864). */
function applyHeader(p: Part, h: Header, inDigest: boolean): void {
  if (inDigest) {
    // rfc2046:5.1.5: in a digest, the default Content-Type is message/rfc822.
    p.mediaType = 'MESSAGE';
    p.mediaSubType = 'RFC822';
  }
  const ct = h.get('content-type');
  if (ct !== undefined) {
    const r = parseValue(ct);
    const slash = r ? r.value.indexOf('/') : -1;
    const t = r && slash > 0 ? r.value.slice(0, slash).trim() : '';
    const st = r && slash > 0 ? r.value.slice(slash + 1).trim() : '';
    if (r && TOKEN.test(t) && TOKEN.test(st)) {
      p.mediaType = t.toUpperCase();
      p.mediaSubType = st.toUpperCase();
      p.contentTypeParams = r.params;
    } else {
      // rfc2045:5.2: an invalid Content-Type means the default, text/plain; charset=us-ascii.
      p.badContentType = true;
      if (r) p.contentTypeParams = r.params;
    }
  }
  const cte = h.get('content-transfer-encoding');
  if (cte !== undefined) p.contentTransferEncoding = (cte.split(/[\s(;]/)[0] ?? '').toUpperCase();
  p.contentId = h.get('content-id') ?? null;
  p.contentDescription = h.get('content-description') ?? null;
  p.contentMD5 = h.get('content-md5') ?? null;
  const loc = h.get('content-location');
  // rfc2557:4.2: the value may be folded; whitespace is removed when unfolding a URL.
  p.contentLocation = loc === undefined ? null : loc.replace(/\s+/g, '');
  const lang = h.get('content-language');
  if (lang !== undefined) {
    const l = lang
      .replace(/\([^)]*\)/g, '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s);
    p.contentLanguage = l.length ? l : null;
  }
  const cd = h.get('content-disposition');
  if (cd !== undefined) {
    const r = parseValue(cd);
    if (r && r.value) {
      p.contentDisposition = r.value.toUpperCase();
      p.contentDispositionParams = r.params;
    }
  }
}

function isIdentityEncoding(cte: string | null): boolean {
  return cte === null || cte === '' || cte === '7BIT' || cte === '8BIT' || cte === 'BINARY';
}

/**
 * Streaming parser: call write() with consecutive chunks of a message, then end() for the Part
 * tree. Chunks must not be modified after being written (header bytes may be kept until the
 * header ends).
 */
export class PartParser {
  private frames: Frame[] = [];
  private root: Part;
  private offset = 0; // absolute offset of the next byte
  private lineNo = 0; // lines seen so far
  private prevEolLen = 0; // line-end length of the previous line
  private prevLineEmpty = false; // previous line had no content (only a line end)
  private pending: Buffer[] = []; // start of an incomplete line
  private pendingLen = 0;
  private lineLen = 0; // bytes of the current line since the last emitted fragment (i.e. pending)
  private midLine = false; // fragments of the current line were emitted already
  private partCount = 1;
  private multiCount = 0; // multipart frames in body state (boundary checks needed)
  private bareLF = false;
  private bareCR = false;
  private done: Part | null = null;

  private readonly fragment: number;
  private readonly bulk: boolean;
  /** Next "\n--", "\n\n", "\n\r\n" in the current chunk (-1: none; -2: not searched yet). */
  private readonly found = [-2, -2, -2];

  /**
   * opts.lineFragment: fragment size (tests use small values to exercise long-line handling).
   * opts.bulk (default true): body lines that cannot be delimiter lines are handled a run at a
   * time (bodyRun) instead of line by line; false keeps the line-by-line path (tests compare both).
   */
  constructor(opts: { lineFragment?: number; bulk?: boolean } = {}) {
    this.fragment = Math.max(4, Math.floor(opts.lineFragment ?? LINE_FRAGMENT));
    this.bulk = opts.bulk ?? true;
    this.root = newPart(0);
    this.frames.push(this.newFrame(this.root, 0, true, false));
  }

  private newFrame(part: Part, depth: number, isMessage: boolean, inDigest: boolean): Frame {
    return {
      part,
      depth,
      inHeader: true,
      hdr: [],
      hdrLen: 0,
      isMessage,
      inDigest,
      kind: Kind.Leaf,
      boundary: null,
      phase: Phase.Preamble,
      bodyStartLine: 0,
      b64: null,
      qp: null,
      heldEol: 0,
    };
  }

  /** Feeds the next chunk of the message. */
  write(chunk: Uint8Array): void {
    if (this.done) throw new Error('PartParser: write after end');
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = buf.length;
    let pos = 0;
    let nl = -2; // cached position of the next LF at or after pos (-1: none left in this chunk)
    // End of the last complete line in this chunk: body runs stop there.
    const lastLine = this.bulk ? buf.lastIndexOf(10) + 1 : 0;
    this.found.fill(-2);
    while (pos < n) {
      if (pos < lastLine && this.lineLen === 0 && !this.midLine) {
        // At a line start (nothing pending): take the following body lines in one run.
        const end = this.bodyRunEnd(buf, pos, lastLine);
        if (end > pos) {
          this.bodyRun(buf, pos, end);
          pos = end;
          continue;
        }
      }
      if (nl !== -1 && nl < pos) nl = buf.indexOf(10, pos);
      const end = nl < 0 ? n : nl + 1;
      const room = this.fragment - this.lineLen;
      if (end - pos > room) {
        // The current line is too long: emit a fragment of exactly `fragment` bytes (one less if
        // it would end in CR, so a CRLF is never split between fragments).
        let piece = buf.subarray(pos, pos + room);
        if (this.pendingLen) piece = Buffer.concat([...this.pending, piece]);
        pos += room;
        this.pending = [];
        this.pendingLen = 0;
        const lineStart = !this.midLine;
        this.midLine = true;
        if (piece.length > 1 && piece[piece.length - 1] === 13) {
          this.segment(piece, 0, piece.length - 1, lineStart, false, false);
          this.pending = [Buffer.from([13])];
          this.pendingLen = 1;
          this.lineLen = 1;
        } else {
          this.segment(piece, 0, piece.length, lineStart, false, false);
          this.lineLen = 0;
        }
        continue;
      }
      if (nl < 0) {
        // Incomplete line: keep a copy (it is at most LINE_FRAGMENT bytes).
        const rest = Buffer.from(buf.subarray(pos));
        this.pending.push(rest);
        this.pendingLen += rest.length;
        this.lineLen += rest.length;
        break;
      }
      if (this.pendingLen) {
        const line = Buffer.concat([...this.pending, buf.subarray(pos, end)]);
        this.pending = [];
        this.pendingLen = 0;
        this.segment(line, 0, line.length, !this.midLine, true, false);
      } else this.segment(buf, pos, end, !this.midLine, true, false);
      this.lineLen = 0;
      this.midLine = false;
      pos = end;
    }
  }

  /** Ends input and returns the Part tree. */
  end(): Part {
    if (this.done) return this.done;
    if (this.pendingLen) {
      const line = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingLen = 0;
      this.segment(line, 0, line.length, !this.midLine, false, true);
    }
    const linesBefore = this.lineNo;
    while (this.frames.length) {
      const f = this.frames.pop()!;
      if (f.kind === Kind.Multi && f.phase !== Phase.Epilogue && f.part.parts.length) f.part.missingClosingBoundary = true;
      this.endFrame(f, this.offset, linesBefore, false, -1);
    }
    if (this.bareLF) this.root.bareLF = true;
    if (this.bareCR) this.root.bareCR = true;
    this.done = this.root;
    return this.root;
  }

  /**
   * Processes one line or line fragment buf[s:e). lineStart: it begins a line; eol: it ends with
   * LF; final: it is the last bytes of the input.
   */
  private segment(buf: Buffer, s: number, e: number, lineStart: boolean, eol: boolean, final: boolean): void {
    const off = this.offset;
    this.offset += e - s;
    let eolLen = 0;
    if (eol) {
      eolLen = e - s >= 2 && buf[e - 2] === 13 ? 2 : 1;
      if (eolLen === 1) this.bareLF = true;
    }
    const contentEnd = e - eolLen;
    if (!this.bareCR) {
      const cr = buf.indexOf(13, s);
      if (cr >= 0 && cr < contentEnd) this.bareCR = true;
    }
    const linesBefore = this.lineNo;
    if (eol || (final && e > s)) this.lineNo++;
    const whole = lineStart && (eol || final);
    const top = this.frames[this.frames.length - 1]!;

    // rfc2046:5.1.1: a delimiter line is "--" boundary, optionally followed by "--" (close
    // delimiter), then optional linear whitespace. Checked in header and body state.
    if (whole && this.multiCount > 0 && contentEnd - s >= 2 && buf[s] === 45 && buf[s + 1] === 45) {
      if (this.boundaryLine(buf, s, contentEnd, off, linesBefore)) {
        this.afterLine(eolLen, lineStart && contentEnd === s);
        return;
      }
    }

    if (top.inHeader) {
      if (whole && eol && contentEnd === s) {
        // Blank line: end of header (rfc5322:2.1).
        this.finishHeader(top, off + (e - s), false);
        top.bodyStartLine = this.lineNo;
      } else if (top.hdrLen < MAX_HEADER_SIZE) {
        const take = Math.min(e - s, MAX_HEADER_SIZE - top.hdrLen);
        top.hdr.push(buf.subarray(s, s + take));
        top.hdrLen += take;
        if (take < e - s) top.part.headerTruncated = true;
      } else top.part.headerTruncated = true;
    } else if (top.b64 || top.qp) {
      // Feed body bytes to the decoded-size counter, holding back this line's end: it belongs to a
      // delimiter if one follows.
      const d = top.b64 ?? top.qp!;
      if (top.heldEol) {
        d.write(CRLF_BYTES, 2 - top.heldEol, 2);
        top.heldEol = 0;
      }
      d.write(buf, s, contentEnd);
      top.heldEol = eolLen;
    }
    this.afterLine(eolLen, lineStart && contentEnd === s);
  }

  /**
   * End of the run of complete lines starting at line start pos (at most to lastLine) that
   * segment() would handle without looking at them one by one: no line of the run starts with
   * "--" while a multipart is open (a possible delimiter line), and in a header none is the blank
   * line that ends it. Returns pos when there is no such run.
   */
  private bodyRunEnd(buf: Buffer, pos: number, lastLine: number): number {
    let end = lastLine;
    // Searches are remembered for the chunk (found[]): each byte is searched once per pattern,
    // however many short runs a chunk has.
    const f = this.found;
    if (this.multiCount > 0) {
      if (buf[pos] === 45 && buf[pos + 1] === 45) return pos;
      if (f[0] !== -1 && f[0]! < pos) f[0] = buf.indexOf(LF_DASH_DASH, pos);
      if (f[0] !== -1 && f[0]! + 1 < end) end = f[0]! + 1;
    }
    const top = this.frames[this.frames.length - 1]!;
    if (top.inHeader) {
      // Header lines up to the blank line that ends the header (handled line by line), within
      // MAX_HEADER_SIZE (beyond it the line-by-line path truncates).
      if (buf[pos] === 10 || (buf[pos] === 13 && buf[pos + 1] === 10)) return pos;
      if (f[1] !== -1 && f[1]! < pos) f[1] = buf.indexOf(LF_LF, pos);
      if (f[1] !== -1 && f[1]! + 1 < end) end = f[1]! + 1;
      if (f[2] !== -1 && f[2]! < pos) f[2] = buf.indexOf(LF_CRLF, pos);
      if (f[2] !== -1 && f[2]! + 1 < end) end = f[2]! + 1;
      const room = MAX_HEADER_SIZE - top.hdrLen;
      if (end - pos > room) end = room > 0 ? buf.lastIndexOf(10, pos + room - 1) + 1 : pos;
    }
    return end > pos ? end : pos;
  }

  /**
   * Complete lines buf[s:e) (e just after a LF) of the top frame, none a delimiter line nor a
   * header's end: the same effect as segment() on each line (offsets, line count, bare CR/LF,
   * header bytes kept, decoded size with the last line end held back), with one decoder call.
   */
  private bodyRun(buf: Buffer, s: number, e: number): void {
    const top = this.frames[this.frames.length - 1]!;
    if (top.b64) return this.base64Run(top, top.b64, buf, s, e);
    // Header lines are kept (one piece for the run) until the header ends.
    if (top.inHeader) {
      top.hdr.push(buf.subarray(s, e));
      top.hdrLen += e - s;
    }
    let lines = 0;
    let start = s;
    let lastStart = s;
    for (;;) {
      const j = buf.indexOf(10, start);
      lines++;
      // A LF is bare unless a CR of the same line precedes it (the byte before a line is a LF).
      if (buf[j - 1] !== 13) this.bareLF = true;
      if (j + 1 >= e) {
        lastStart = start;
        break;
      }
      start = j + 1;
    }
    if (!this.bareCR) {
      for (let c = buf.indexOf(13, s); c >= 0 && c < e; c = buf.indexOf(13, c + 2)) {
        if (buf[c + 1] !== 10) {
          this.bareCR = true;
          break;
        }
      }
    }
    const eolLen = e - lastStart >= 2 && buf[e - 2] === 13 ? 2 : 1;
    const d = top.b64 ?? top.qp;
    if (d) {
      if (top.heldEol) d.write(CRLF_BYTES, 2 - top.heldEol, 2);
      d.write(buf, s, e - eolLen);
      top.heldEol = eolLen;
    }
    this.offset += e - s;
    this.lineNo += lines;
    this.afterLine(eolLen, e - lastStart === eolLen);
  }

  /**
   * bodyRun for a base64 body: one pass over the bytes counts the alphabet characters and finds
   * the line ends (every byte is looked at anyway; line ends are not alphabet characters, so the
   * count is that of feeding the lines to the counter).
   */
  private base64Run(top: Frame, counter: Base64Counter, buf: Buffer, s: number, e: number): void {
    let chars = 0;
    let lines = 0;
    let lineStart = s;
    let lastStart = s;
    let bareLF = false;
    let bareCR = false;
    for (let i = s; i < e; i++) {
      const b = buf[i]!;
      if (b > 13) {
        chars += B64[b]!;
      } else if (b === 10) {
        lines++;
        if (buf[i - 1] !== 13) bareLF = true;
        lastStart = lineStart;
        lineStart = i + 1;
      } else if (b === 13 && buf[i + 1] !== 10) bareCR = true;
    }
    counter.add(chars);
    if (bareLF) this.bareLF = true;
    if (bareCR) this.bareCR = true;
    const eolLen = e - lastStart >= 2 && buf[e - 2] === 13 ? 2 : 1;
    top.heldEol = eolLen;
    this.offset += e - s;
    this.lineNo += lines;
    this.afterLine(eolLen, e - lastStart === eolLen);
  }

  private afterLine(eolLen: number, empty: boolean): void {
    if (eolLen) {
      this.prevEolLen = eolLen;
      this.prevLineEmpty = empty;
    } else {
      this.prevLineEmpty = false;
    }
  }

  /** Checks a "--" line against enclosing boundaries, innermost first; handles a match. */
  private boundaryLine(buf: Buffer, s: number, e: number, off: number, linesBefore: number): boolean {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind !== Kind.Multi || f.inHeader || !f.boundary) continue;
      const b = f.boundary;
      if (e - s < b.length || buf.compare(b, 0, b.length, s, s + b.length) !== 0) continue;
      let j = s + b.length;
      let close = false;
      if (j + 2 <= e && buf[j] === 45 && buf[j + 1] === 45) {
        close = true;
        j += 2;
      }
      while (j < e && (buf[j] === 32 || buf[j] === 9)) j++;
      if (j !== e) continue; // e.g. a longer boundary that has this one as a prefix
      if (!close && this.partCount >= MAX_PARTS) {
        f.part.partsLimited = true;
        return false;
      }
      // Close everything inside the matching multipart, innermost first.
      let childEnd = -1;
      while (this.frames.length - 1 > i) {
        const inner = this.frames.pop()!;
        if (inner.kind === Kind.Multi && inner.phase !== Phase.Epilogue && inner.part.parts.length) inner.part.missingClosingBoundary = true;
        childEnd = this.endFrame(inner, off, linesBefore, true, childEnd);
      }
      if (close) {
        f.phase = Phase.Epilogue;
      } else {
        f.phase = Phase.InChild;
        const child = newPart(this.offset); // segment() already advanced past this line
        f.part.parts.push(child);
        this.partCount++;
        this.frames.push(this.newFrame(child, f.depth + 1, false, f.part.mediaSubType === 'DIGEST'));
      }
      return true;
    }
    return false;
  }

  /** Parses the collected header of frame f and prepares for its body starting at bodyOffset. */
  private finishHeader(f: Frame, bodyOffset: number, unterminated: boolean): void {
    const p = f.part;
    f.inHeader = false;
    p.bodyOffset = bodyOffset;
    if (unterminated) p.headerUnterminated = true;
    const hb = f.hdr.length === 1 ? f.hdr[0]! : Buffer.concat(f.hdr);
    f.hdr = [];
    if (has8bit(hb)) p.header8bit = true;
    const h = parseHeader(hb);
    applyHeader(p, h, f.inDigest);
    if (f.isMessage) p.envelope = envelopeFromHeader(h);
    if (p.mediaType === 'MULTIPART') {
      const b = p.contentTypeParams['boundary'];
      if (!b || b.length > MAX_BOUNDARY_LENGTH) {
        p.boundaryMissing = true;
        p.mediaType = 'TEXT';
        p.mediaSubType = 'PLAIN';
      } else if (f.depth >= MAX_DEPTH) {
        p.depthLimited = true;
      } else {
        f.kind = Kind.Multi;
        f.boundary = Buffer.from('--' + b, 'utf8');
        this.multiCount++;
      }
    } else if (p.mediaType === 'MESSAGE' && (p.mediaSubType === 'RFC822' || p.mediaSubType === 'GLOBAL')) {
      if (!isIdentityEncoding(p.contentTransferEncoding)) p.encodedMessage = true;
      else if (f.depth >= MAX_DEPTH) p.depthLimited = true;
      else {
        f.kind = Kind.Message;
        const m = newPart(bodyOffset);
        p.message = m;
        this.partCount++;
        this.frames.push(this.newFrame(m, f.depth + 1, true, false));
      }
    }
    if (f.kind === Kind.Leaf) {
      if (p.contentTransferEncoding === 'BASE64') f.b64 = new Base64Counter();
      else if (p.contentTransferEncoding === 'QUOTED-PRINTABLE') f.qp = new QPDecoder();
    }
  }

  /**
   * Ends frame f at offset end (a delimiter line or end of input) and returns its endOffset.
   * childEnd: endOffset of the frame just ended inside f at the same delimiter (-1 if none).
   */
  private endFrame(f: Frame, end: number, linesBefore: number, atDelimiter: boolean, childEnd: number): number {
    const p = f.part;
    // rfc2046:5.1.1: the line break before a delimiter is part of the delimiter. It is left in the
    // part when the part is empty (the line break ended its header, or precedes it), and when a
    // part inside it kept it, so parents always contain their children.
    const trim = atDelimiter && end > (f.inHeader ? p.headerOffset : p.bodyOffset) && childEnd !== end;
    const e = trim ? end - this.prevEolLen : end;
    if (f.inHeader) {
      this.finishHeader(f, e, true);
      f.bodyStartLine = linesBefore;
      // finishHeader may have pushed an embedded message frame; end it too, empty.
      if (f.kind === Kind.Message) {
        const m = this.frames.pop()!;
        this.endFrame(m, end, linesBefore, atDelimiter, -1);
      }
    }
    if (f.kind === Kind.Multi) this.multiCount--;
    let lines = linesBefore - f.bodyStartLine;
    if (trim && lines > 0 && this.prevLineEmpty) lines--;
    if (trim) f.heldEol = 0;
    p.endOffset = e;
    p.rawLineCount = lines;
    if (f.b64 || f.qp) {
      if (f.heldEol) {
        const d = f.b64 ?? f.qp!;
        d.write(CRLF_BYTES, 2 - f.heldEol, 2);
      }
      p.decodedSize = f.b64 ? f.b64.size() : f.qp!.end();
    } else p.decodedSize = e - p.bodyOffset;
    if (f.kind === Kind.Multi && p.parts.length === 0) {
      // Boundary never seen: treat the whole body as one text part.
      p.boundaryNotFound = true;
      p.mediaType = 'TEXT';
      p.mediaSubType = 'PLAIN';
    }
    return e;
  }
}

/** Parses a whole message held in memory. */
export function parseBuffer(buf: Buffer): Part {
  const p = new PartParser();
  p.write(buf);
  return p.end();
}

/** Parses a message file, streaming it (memory stays bounded for large messages). */
export async function parseFile(path: string): Promise<Part> {
  const p = new PartParser();
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  for await (const chunk of stream) p.write(chunk as Buffer);
  return p.end();
}

/**
 * A Writable that parses what is written to it, e.g. piped alongside SMTP DATA going to disk.
 * `part` is set once the stream has finished.
 */
export class PartWritable extends Writable {
  private readonly parser = new PartParser();
  part: Part | undefined;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.parser.write(chunk);
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.part = this.parser.end();
    cb();
  }
}
