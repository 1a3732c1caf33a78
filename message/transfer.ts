// Content-Transfer-Encoding decoding (rfc2045:6): base64 (rfc2045:6.8) and quoted-printable
// (rfc2045:6.7), both lenient. The same streaming classes back the parser's decoded-size count
// (IMAP BINARY.SIZE, rfc3516) and the actual decoding, so the two always agree, however the input
// is split into chunks.

/** 1 for bytes of the base64 alphabet (rfc2045:6.8 table 1), 0 otherwise. */
export const B64 = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') B64[c.charCodeAt(0)] = 1;

/**
 * Counts base64 alphabet characters. Everything else (line breaks, padding, garbage) is ignored,
 * so a broken body still decodes to something; a trailing single character is dropped.
 */
export class Base64Counter {
  private chars = 0;
  /** Adds alphabet characters counted elsewhere (the parser counts them while scanning lines). */
  add(chars: number): void {
    this.chars += chars;
  }
  write(buf: Uint8Array, start = 0, end = buf.length): void {
    let n = 0;
    for (let i = start; i < end; i++) n += B64[buf[i]!]!;
    this.chars += n;
  }
  /** Decoded size in bytes. */
  size(): number {
    return Math.floor((this.chars * 3) / 4);
  }
}

/** Decodes base64 leniently: non-alphabet bytes (including "=") are skipped. */
export function decodeBase64(buf: Uint8Array): Buffer {
  const clean = Buffer.allocUnsafe(buf.length);
  let n = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (B64[b]) clean[n++] = b;
  }
  return Buffer.from(clean.toString('latin1', 0, n), 'base64');
}

function hexVal(b: number): number {
  if (b >= 48 && b <= 57) return b - 48;
  if (b >= 65 && b <= 70) return b - 55;
  if (b >= 97 && b <= 102) return b - 87; // lower case is not allowed by rfc2045:6.7 (1), accept it
  return -1;
}

/** Bytes the quoted-printable fast path must not copy blindly: "=", SP, TAB, CR, LF. */
const QP_SPECIAL = new Uint8Array(256);
for (const b of [61, 32, 9, 13, 10]) QP_SPECIAL[b] = 1;

const enum QP {
  Normal,
  CR, // saw CR
  Eq, // saw "="
  Eq1, // saw "=" and one hex digit
  EqWs, // saw "=" then whitespace (transport padding before a soft break)
  EqCR, // saw "=" [ws] CR
}

/** Longest run of trailing whitespace we remember byte for byte; longer runs are emitted as spaces. */
const QP_MAX_PENDING_WS = 1024;

/**
 * Streaming quoted-printable decoder (rfc2045:6.7). Hard line breaks are kept as written (CRLF or
 * LF); trailing whitespace before a line break is dropped (rule 3); "=" before a line break is a
 * soft break (rule 5); an "=" not followed by two hex digits is kept literally (best effort, as the
 * RFC suggests for robustness). Without an output buffer it only counts.
 */
export class QPDecoder {
  private state = QP.Normal;
  private h1 = 0; // first hex digit byte after "="
  private ws: number[] = []; // pending whitespace (dropped if a line break follows)
  private wsExtra = 0; // whitespace beyond QP_MAX_PENDING_WS
  private eqWs = 0; // whitespace count after "=" (EqWs)
  n = 0;
  constructor(private out: Buffer | null = null) {}

  private emit(b: number): void {
    if (this.out) this.out[this.n] = b;
    this.n++;
  }
  private flushWs(): void {
    if (this.ws.length === 0 && this.wsExtra === 0) return;
    for (const w of this.ws) this.emit(w);
    for (let i = 0; i < this.wsExtra; i++) this.emit(32);
    this.ws.length = 0;
    this.wsExtra = 0;
  }
  private dropWs(): void {
    // Setting an array's length is a runtime call: only when there is something to drop.
    if (this.ws.length !== 0) this.ws.length = 0;
    this.wsExtra = 0;
  }

  write(buf: Uint8Array, start = 0, end = buf.length): void {
    const out = this.out;
    let i = start;
    if (!out && this.state === QP.Normal && this.ws.length === 0 && this.wsExtra === 0) i = this.countLines(buf, i, end);
    while (i < end) {
      if (this.state !== QP.Normal || this.ws.length !== 0 || this.wsExtra !== 0) {
        this.step(buf[i]!);
        i++;
        continue;
      }
      // Fast path: the common sequences, decided within this piece without the state machine
      // (each with exactly the result the state machine gives); anything else (a sequence cut
      // by the end of the piece, a lone CR, a bad escape) goes byte by byte through step().
      let n = this.n;
      while (i < end) {
        const b = buf[i]!;
        if (QP_SPECIAL[b] === 0) {
          if (out) out[n] = b;
          n++;
          i++;
          continue;
        }
        if (b === 13) {
          // Hard line break, kept as written.
          if (i + 1 < end && buf[i + 1] === 10) {
            if (out) (out[n] = 13), (out[n + 1] = 10);
            n += 2;
            i += 2;
            continue;
          }
          break;
        }
        if (b === 10) {
          if (out) out[n] = 10;
          n++;
          i++;
          continue;
        }
        if (b === 61) {
          if (i + 2 < end) {
            const h = hexVal(buf[i + 1]!);
            const l = h >= 0 ? hexVal(buf[i + 2]!) : -1;
            if (l >= 0) {
              if (out) out[n] = h * 16 + l;
              n++;
              i += 3;
              continue;
            }
            if (buf[i + 1] === 13 && buf[i + 2] === 10) {
              i += 3; // soft line break (rule 5)
              continue;
            }
          }
          if (i + 1 < end && buf[i + 1] === 10) {
            i += 2; // soft line break with a bare LF
            continue;
          }
          break;
        }
        // SP or TAB: a run of whitespace is dropped before a line break (rule 3), else kept.
        let j = i + 1;
        while (j < end && (buf[j] === 32 || buf[j] === 9)) j++;
        if (j >= end) break;
        const c = buf[j]!;
        if (c === 10 || (c === 13 && j + 1 < end && buf[j + 1] === 10)) {
          i = j;
          continue;
        }
        if (c === 13) break;
        if (out) for (let k = i; k < j; k++) out[n + k - i] = buf[k]!;
        n += j - i;
        i = j;
      }
      this.n = n;
      if (i >= end) break;
      this.step(buf[i]!);
      i++;
    }
  }

  /**
   * Counting only, from the initial state: the decoded size of the complete lines at the start
   * of buf[i:end) without visiting every byte. A line's bytes count as written, less: two per
   * "=XX" escape, a soft break ("=" [whitespace] line end, rule 5) entirely, whitespace before a
   * hard line break (rule 3). Line ends and "=" are found with indexOf. Returns where it stopped
   * (after the last line end it handled, the state again initial); the rest goes through the
   * general path, as does a line with "=" whitespace and a lone CR, where the state machine
   * drops that whitespace.
   */
  private countLines(buf: Uint8Array, start: number, end: number): number {
    // Searches in a view of the piece only: their cost stays within it.
    const v = buf.subarray(start, end);
    const len = v.length;
    let n = this.n;
    let i = 0;
    let eq = v.indexOf(61);
    while (i < len) {
      const lf = v.indexOf(10, i);
      if (lf < 0) break;
      let ce = lf;
      if (ce > i && v[ce - 1] === 13) ce--;
      let k = ce;
      while (k > i && (v[k - 1] === 32 || v[k - 1] === 9)) k--;
      const soft = k > i && v[k - 1] === 61;
      // Escapes before the soft break's "=" (or the trailing whitespace).
      const stop = soft ? k - 1 : k;
      let lost = 0;
      let bad = false;
      while (eq >= 0 && eq < stop) {
        if (eq + 2 < ce && hexVal(v[eq + 1]!) >= 0 && hexVal(v[eq + 2]!) >= 0) {
          lost += 2;
          eq = v.indexOf(61, eq + 3);
        } else {
          let j = eq + 1;
          while (j < ce && (v[j] === 32 || v[j] === 9)) j++;
          if (j > eq + 1 && j < ce && v[j] === 13) {
            bad = true; // "=" whitespace, lone CR
            break;
          }
          eq = v.indexOf(61, eq + 1);
        }
      }
      if (bad) break;
      n += lf + 1 - i - lost - (soft ? lf + 2 - k : ce - k);
      i = lf + 1;
      // The soft break's "=" (if any) is behind us now.
      if (eq >= 0 && eq < i) eq = v.indexOf(61, i);
    }
    this.n = n;
    return start + i;
  }

  private step(b: number): void {
    switch (this.state) {
      case QP.Normal:
        this.normal(b);
        break;
      case QP.CR:
        if (b === 10) {
          this.dropWs();
          this.emit(13);
          this.emit(10);
          this.state = QP.Normal;
        } else {
          this.flushWs();
          this.emit(13);
          this.state = QP.Normal;
          this.normal(b);
        }
        break;
      case QP.Eq: {
        if (hexVal(b) >= 0) {
          this.h1 = b;
          this.state = QP.Eq1;
        } else if (b === 10) this.state = QP.Normal; // soft break (bare LF)
        else if (b === 13) this.state = QP.EqCR;
        else if (b === 32 || b === 9) {
          this.eqWs = 1;
          this.state = QP.EqWs;
        } else {
          this.emit(61);
          this.state = QP.Normal;
          this.normal(b);
        }
        break;
      }
      case QP.Eq1: {
        const v = hexVal(b);
        if (v >= 0) {
          this.emit(hexVal(this.h1) * 16 + v);
          this.state = QP.Normal;
        } else {
          this.emit(61);
          this.emit(this.h1);
          this.state = QP.Normal;
          this.normal(b);
        }
        break;
      }
      case QP.EqWs:
        if (b === 32 || b === 9) this.eqWs++;
        else if (b === 10) this.state = QP.Normal;
        else if (b === 13) this.state = QP.EqCR;
        else {
          this.emit(61);
          for (let k = 0; k < this.eqWs; k++) this.emit(32);
          this.state = QP.Normal;
          this.normal(b);
        }
        break;
      case QP.EqCR:
        if (b === 10) this.state = QP.Normal;
        else {
          // "=" CR without LF: keep the "=" and the CR as data.
          this.emit(61);
          this.emit(13);
          this.state = QP.Normal;
          this.normal(b);
        }
        break;
    }

  }

  private normal(b: number): void {
    if (b === 61) {
      this.flushWs();
      this.state = QP.Eq;
    } else if (b === 32 || b === 9) {
      if (this.ws.length < QP_MAX_PENDING_WS) this.ws.push(b);
      else this.wsExtra++;
    } else if (b === 13) {
      this.state = QP.CR;
    } else if (b === 10) {
      this.dropWs();
      this.emit(10);
    } else {
      this.flushWs();
      this.emit(b);
    }
  }

  /** Ends input (end of body counts as end of line) and returns the decoded size. */
  end(): number {
    switch (this.state) {
      case QP.CR:
        this.flushWs();
        this.emit(13);
        break;
      case QP.Eq1:
        this.emit(61);
        this.emit(this.h1);
        break;
      default:
        // Eq/EqWs/EqCR at the very end: a soft break with nothing after it.
        break;
    }
    this.dropWs();
    this.state = QP.Normal;
    return this.n;
  }
}

/** Decodes quoted-printable leniently. */
export function decodeQuotedPrintable(buf: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(buf.length);
  const d = new QPDecoder(out);
  d.write(buf);
  const n = d.end();
  return out.subarray(0, n);
}

/**
 * Decodes a body per its Content-Transfer-Encoding (case-insensitive). 7bit, 8bit, binary,
 * absent and unknown encodings return the bytes unchanged.
 */
export function decodeTransfer(encoding: string | null | undefined, body: Buffer): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'base64':
      return decodeBase64(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}
