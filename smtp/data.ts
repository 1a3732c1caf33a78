/**
 * The DATA phase reader: removes dot-stuffing (rfc5321:4.5.2), finds the end of data, and flags
 * bare CR and bare LF — the line endings that make SMTP smuggling possible (rfc5321:2.3.8 says a
 * receiver MUST NOT recognise them as line ends). Only "<CRLF>.<CRLF>" ends the data, so "\n.\n",
 * "\r.\r", "\r\n.\n" and friends are just data here, and their bare line endings get the message
 * refused by the caller once the real end is seen.
 *
 * A byte-level state machine, so chunk boundaries anywhere give the same result. It never holds
 * more than the chunk it is given: output goes to the `write` callback.
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

const enum S {
  LineStart, // after CRLF, or at the start of the data
  Mid, // in a line
  CR, // saw CR in a line; CR LF pending
  Dot, // saw "." at line start
  DotCR, // saw "." CR at line start; end of data if LF follows
}

export interface DataResult {
  /** Bytes of message data written (after unstuffing). */
  size: number;
  bareCR: boolean;
  bareLF: boolean;
}

/** A CR held back at the end of a chunk (its meaning depends on the next byte), written at the start of the next. */
const CR_BYTE = Buffer.from([CR]);

export class DataReader {
  private state: S = S.LineStart;
  private done = false;
  size = 0;
  bareCR = false;
  bareLF = false;

  /**
   * `write` receives unstuffed message bytes, in order: pieces of the chunks given to feed (not
   * copies; the caller must not change a chunk after feeding it) or a held-back CR.
   */
  constructor(private readonly write: (b: Buffer) => void) {}

  get finished(): boolean {
    return this.done;
  }

  private out(b: Buffer): void {
    this.size += b.length;
    this.write(b);
  }

  /**
   * Feed bytes from the connection. Returns the number of bytes consumed: less than the chunk
   * when the end of data was found inside it (the rest are pipelined commands), else all of it.
   *
   * The output is the input minus the bytes that are dropped (a dot at the start of a line, the
   * final ".", CR, LF), so it is written as runs of the chunk between dropped bytes: usually one
   * piece per chunk, without copying. Inside a line the next CR and LF are found with indexOf.
   */
  feed(chunk: Buffer): number {
    if (this.done) return 0;
    const n = chunk.length;
    if (n === 0) return 0;
    let st = this.state;
    // The CR held back at the end of the previous chunk: a CR in a line is always data; after a
    // line-start ".", it is the end of data when LF follows, else a bare CR.
    if (st === S.CR || (st === S.DotCR && chunk[0] !== LF)) this.out(CR_BYTE);
    let run = 0; // start of the bytes not yet written
    let nextCR = -1;
    let nextLF = -1;
    let i = 0;
    for (; i < n; i++) {
      if (st === S.Mid) {
        // The ordinary bytes of a line stay in the run; jump to the next CR or LF.
        if (nextCR < i) nextCR = indexOrEnd(chunk, CR, i);
        if (nextLF < i) nextLF = indexOrEnd(chunk, LF, i);
        i = nextCR < nextLF ? nextCR : nextLF;
        if (i === n) break;
      }
      const c = chunk[i]!;
      if (st === S.LineStart) {
        if (c === DOT) {
          // rfc5321:4.5.2 a line-start "." is dropped: stuffing, or the start of the end marker.
          if (i > run) this.out(chunk.subarray(run, i));
          run = i + 1;
          st = S.Dot;
          continue;
        }
        st = S.Mid; // an ordinary first byte is handled as in a line
      } else if (st === S.Dot && c !== CR) {
        st = S.Mid; // the "." was stuffing: go on as in a line
      } else if (st === S.DotCR && c !== LF) {
        st = S.CR; // "." CR not followed by LF: the dot is dropped, the CR (in the run, or written above) is a bare CR
      }
      switch (st) {
        case S.Mid:
          if (c === CR) st = S.CR;
          else if (c === LF) this.bareLF = true;
          continue;
        case S.CR:
          if (c === LF) st = S.LineStart;
          else {
            this.bareCR = true;
            if (c !== CR) st = S.Mid;
          }
          continue;
        case S.Dot:
          st = S.DotCR; // c is CR here
          continue;
        case S.DotCR:
          // c is LF: "." CR LF at the start of a line ends the data; run is past the ".", the CR and LF are dropped.
          this.done = true;
          this.state = st;
          return i + 1;
      }
    }
    this.state = st;
    // A CR at the end (st CR or DotCR) is held back: written with the next chunk, or dropped as part of the end.
    const end = st === S.CR || st === S.DotCR ? n - 1 : n;
    if (end > run) this.out(chunk.subarray(run, end));
    return n;
  }

  result(): DataResult {
    return { size: this.size, bareCR: this.bareCR, bareLF: this.bareLF };
  }
}

/** Position of the first `byte` at or after `from`, or the buffer's length. */
function indexOrEnd(b: Buffer, byte: number, from: number): number {
  const at = b.indexOf(byte, from);
  return at < 0 ? b.length : at;
}

/** Dot-stuff message bytes for sending (rfc5321:4.5.2) and append the end-of-data marker. */
export function dotStuff(msg: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  if (msg.length > 0 && msg[0] === DOT) parts.push(Buffer.from('.'));
  for (let i = msg.indexOf(LF); i >= 0 && i < msg.length - 1; i = msg.indexOf(LF, i + 1)) {
    if (msg[i + 1] === DOT && i > 0 && msg[i - 1] === CR) {
      parts.push(msg.subarray(start, i + 1), Buffer.from('.'));
      start = i + 1;
    }
  }
  parts.push(msg.subarray(start));
  const endsWithCRLF = msg.length >= 2 && msg[msg.length - 2] === CR && msg[msg.length - 1] === LF;
  parts.push(Buffer.from(endsWithCRLF || msg.length === 0 ? '.\r\n' : '\r\n.\r\n'));
  return Buffer.concat(parts);
}
