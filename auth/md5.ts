/**
 * MD5 (RFC 1321) that can start from a saved state, for CRAM-MD5 (RFC 2195) without keeping the
 * password: HMAC-MD5 (RFC 2104) absorbs one 64-byte block (key XOR ipad, key XOR opad) before
 * the data, so the two MD5 states after those blocks are all the server needs to compute
 * HMAC-MD5(password, challenge). Node's crypto cannot export or import a hash's intermediate
 * state, hence this small implementation; it is tested against crypto's md5 and hmac.
 * Not for bulk hashing: use node:crypto for that.
 */
import { createHash } from 'node:crypto';

/** rfc1321:3.3 initial state A, B, C, D. */
const IV = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476] as const;
/** rfc1321:3.4 per-step shift amounts. */
const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
/** rfc1321:3.4 T[i] = floor(2^32 * abs(sin(i + 1))). */
const T = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

/** Absorb one 64-byte block at `off` into state (4 words, updated in place). rfc1321:3.4 */
function compress(st: Uint32Array, b: Uint8Array, off: number): void {
  const m = new Uint32Array(16);
  for (let i = 0; i < 16; i++) m[i] = (b[off + 4 * i]! | (b[off + 4 * i + 1]! << 8) | (b[off + 4 * i + 2]! << 16) | (b[off + 4 * i + 3]! << 24)) >>> 0;
  let a = st[0]!;
  let bb = st[1]!;
  let c = st[2]!;
  let d = st[3]!;
  for (let i = 0; i < 64; i++) {
    let f: number;
    let g: number;
    if (i < 16) {
      f = (bb & c) | (~bb & d);
      g = i;
    } else if (i < 32) {
      f = (d & bb) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = bb ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (bb | ~d);
      g = (7 * i) & 15;
    }
    const x = (f + a + T[i]! + m[g]!) >>> 0;
    const s = S[((i >> 4) << 2) | (i & 3)]!;
    a = d;
    d = c;
    c = bb;
    bb = (bb + ((x << s) | (x >>> (32 - s)))) >>> 0;
  }
  st[0] = (st[0]! + a) >>> 0;
  st[1] = (st[1]! + bb) >>> 0;
  st[2] = (st[2]! + c) >>> 0;
  st[3] = (st[3]! + d) >>> 0;
}

function stateBytes(st: Uint32Array): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(st[i]!, 4 * i);
  return out;
}

function stateWords(b: Buffer): Uint32Array {
  if (b.length !== 16) throw new Error('md5 state must be 16 bytes');
  return Uint32Array.from([b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12)]);
}

/** The MD5 state (16 bytes) after absorbing exactly one 64-byte block from the initial state. */
export function md5StateAfterBlock(block: Buffer): Buffer {
  if (block.length !== 64) throw new Error('md5 block must be 64 bytes');
  const st = Uint32Array.from(IV);
  compress(st, block, 0);
  return stateBytes(st);
}

/**
 * Finish an MD5 that was saved as `state` after `prefixLen` bytes (a multiple of 64), with `data`
 * as the rest of the input. Returns the 16-byte digest. rfc1321:3.1-3.2 padding and length.
 */
export function md5Resume(state: Buffer, prefixLen: number, data: Buffer): Buffer {
  if (prefixLen % 64 !== 0) throw new Error('md5 prefix must be whole blocks');
  const st = stateWords(state);
  const total = prefixLen + data.length;
  const padLen = (data.length + 9 + 63) & ~63;
  const buf = Buffer.alloc(padLen);
  data.copy(buf);
  buf[data.length] = 0x80;
  const bits = BigInt(total) * 8n;
  buf.writeBigUInt64LE(bits & 0xffffffffffffffffn, padLen - 8);
  for (let off = 0; off < padLen; off += 64) compress(st, buf, off);
  return stateBytes(st);
}

/** HMAC-MD5 key schedule (rfc2104:2): the states after the key XOR ipad and XOR opad blocks. */
export function hmacMd5States(key: Buffer): { ipad: Buffer; opad: Buffer } {
  const k = Buffer.alloc(64);
  (key.length > 64 ? createHash('md5').update(key).digest() : key).copy(k);
  const ipad = Buffer.alloc(64);
  const opad = Buffer.alloc(64);
  for (let i = 0; i < 64; i++) {
    ipad[i] = k[i]! ^ 0x36;
    opad[i] = k[i]! ^ 0x5c;
  }
  return { ipad: md5StateAfterBlock(ipad), opad: md5StateAfterBlock(opad) };
}

/** HMAC-MD5(key, data) from the saved states: MD5(opad-state, MD5(ipad-state, data)). */
export function hmacMd5FromStates(states: { ipad: Buffer; opad: Buffer }, data: Buffer): Buffer {
  return md5Resume(states.opad, 64, md5Resume(states.ipad, 64, data));
}
