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

export class DataReader {
  private state: S = S.LineStart;
  private done = false;
  size = 0;
  bareCR = false;
  bareLF = false;

  /** `write` receives unstuffed message bytes; the buffer passed is only valid during the call. */
  constructor(private readonly write: (b: Buffer) => void) {}

  get finished(): boolean {
    return this.done;
  }

  /**
   * Feed bytes from the connection. Returns the number of bytes consumed: less than the chunk
   * when the end of data was found inside it (the rest are pipelined commands), else all of it.
   */
  feed(chunk: Buffer): number {
    if (this.done) return 0;
    // Output is at most the input plus 2 pending bytes from the previous chunk.
    const out = Buffer.allocUnsafe(chunk.length + 2);
    let o = 0;
    let st = this.state;
    let i = 0;
    const n = chunk.length;
    for (; i < n; i++) {
      if (st === S.Mid) {
        // The ordinary bytes of a line are copied in one go (a tight scan, then one copy)
        // instead of one at a time through the state machine.
        let stop = i;
        for (let b = chunk[stop]!; b !== CR && b !== LF; b = chunk[stop]!) if (++stop === n) break;
        if (stop > i) {
          chunk.copy(out, o, i, stop);
          o += stop - i;
          i = stop;
          if (i === n) break;
        }
        // chunk[i] is CR or LF: handled below as before.
      }
      const c = chunk[i]!;
      if (st === S.LineStart) {
        if (c === DOT) {
          st = S.Dot;
          continue;
        }
        st = S.Mid; // an ordinary first byte is handled as in a line
      } else if (st === S.Dot && c !== CR) {
        st = S.Mid; // rfc5321:4.5.2 the first "." of a line was stuffing: drop it, go on as in a line
      } else if (st === S.DotCR && c !== LF) {
        st = S.CR; // "." CR not followed by LF: the dot is dropped, the CR is a bare CR
      }
      switch (st) {
        case S.Mid:
          if (c === CR) st = S.CR;
          else {
            if (c === LF) this.bareLF = true;
            out[o++] = c;
          }
          continue;
        case S.CR:
          if (c === LF) {
            out[o++] = CR;
            out[o++] = LF;
            st = S.LineStart;
          } else {
            this.bareCR = true;
            out[o++] = CR;
            if (c !== CR) {
              out[o++] = c;
              st = S.Mid;
            }
          }
          continue;
        case S.Dot:
          st = S.DotCR; // c is CR here
          continue;
        case S.DotCR:
          // c is LF: "." CR LF at the start of a line ends the data.
          this.done = true;
          i++;
          break;
      }
      break; // only reached from DotCR + LF
    }
    this.state = st;
    if (o > 0) {
      this.size += o;
      this.write(out.subarray(0, o));
    }
    return i;
  }

  result(): DataResult {
    return { size: this.size, bareCR: this.bareCR, bareLF: this.bareLF };
  }
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
