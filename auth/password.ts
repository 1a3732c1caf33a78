/**
 * Password records: what an account stores instead of its password.
 *
 * - `scrypt`: salted scrypt hash (RFC 7914) for SASL PLAIN / LOGIN / HTTP basic auth; parameters
 *   are kept in the record so they can be raised later without breaking old records. Verified in
 *   constant time.
 * - `scramSha256` and `scramSha1`: salt, iteration count, StoredKey and ServerKey for SCRAM
 *   (RFC 5802, RFC 7677); the server never needs the password or SaltedPassword for SCRAM.
 * - `cramMd5`: the HMAC-MD5 ipad/opad intermediate MD5 states of the password (what mox stores),
 *   computed with auth/md5.ts when the password is set; enough to check a CRAM-MD5 response
 *   (RFC 2195) without the password. Records made before it existed have none: CRAM-MD5 fails for
 *   them until the password is set again. See auth/README.md.
 */
import { hmacMd5States, hmacMd5FromStates } from './md5.js';
import { createHash, createHmac, randomBytes, scrypt as scryptCb, pbkdf2 as pbkdf2Cb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (pw: string | Buffer, salt: Buffer, keylen: number, opts: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const pbkdf2 = promisify(pbkdf2Cb);

/** scrypt cost: N=2^15, r=8, p=1 (RFC 7914 / OWASP interactive-login guidance), 32 MiB per hash. */
export const SCRYPT_N = 1 << 15;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
export const SCRYPT_KEYLEN = 32;
/** SCRAM iteration count: RFC 7677 §4 asks for at least 4096; mox uses 4096 as well. */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

export interface ScryptHash {
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
  /** base64 */
  hash: string;
}

export interface ScramKeys {
  /** base64 salt, as sent in the server-first-message */
  salt: string;
  iterations: number;
  /** base64 H(ClientKey) */
  storedKey: string;
  /** base64 HMAC(SaltedPassword, "Server Key") */
  serverKey: string;
}

/** HMAC-MD5 key states for CRAM-MD5 (base64 of 16 bytes each). */
export interface CramMd5States {
  ipad: string;
  opad: string;
}

export interface PasswordRecord {
  v: 1;
  scrypt: ScryptHash;
  scramSha256: ScramKeys;
  scramSha1: ScramKeys;
  /** Absent in records written before CRAM-MD5 support: no CRAM-MD5 until the password is set again. */
  cramMd5?: CramMd5States;
}

export type ScramHash = 'sha256' | 'sha1';

export interface HashOptions {
  /** Lower costs for tests only. */
  scryptN?: number;
  scramIterations?: number;
}

function scryptMaxmem(N: number, r: number): number {
  return 128 * N * r * 2;
}

/** Compute a password record (scrypt + SCRAM keys). The password is normalized to NFC. */
export async function hashPassword(password: string, opts: HashOptions = {}): Promise<PasswordRecord> {
  const pw = password.normalize('NFC');
  const N = opts.scryptN ?? SCRYPT_N;
  const salt = randomBytes(SALT_BYTES);
  const hash = await scrypt(pw, salt, SCRYPT_KEYLEN, { N, r: SCRYPT_R, p: SCRYPT_P, maxmem: scryptMaxmem(N, SCRYPT_R) });
  const iterations = opts.scramIterations ?? SCRAM_ITERATIONS;
  const [s256, s1] = await Promise.all([
    scramKeys(pw, randomBytes(SALT_BYTES), iterations, 'sha256'),
    scramKeys(pw, randomBytes(SALT_BYTES), iterations, 'sha1'),
  ]);
  return {
    v: 1,
    scrypt: { N, r: SCRYPT_R, p: SCRYPT_P, salt: salt.toString('base64'), hash: hash.toString('base64') },
    scramSha256: s256,
    scramSha1: s1,
    cramMd5: cramMd5States(pw),
  };
}

/** CRAM-MD5 states for a password (UTF-8 of its NFC form, as for the other mechanisms). */
export function cramMd5States(password: string): CramMd5States {
  const st = hmacMd5States(Buffer.from(password.normalize('NFC'), 'utf8'));
  return { ipad: st.ipad.toString('base64'), opad: st.opad.toString('base64') };
}

/** rfc2195:2 the expected response digest: HMAC-MD5(password, challenge), from the stored states. */
export function cramMd5Digest(states: CramMd5States, challenge: Buffer): Buffer {
  return hmacMd5FromStates({ ipad: Buffer.from(states.ipad, 'base64'), opad: Buffer.from(states.opad, 'base64') }, challenge);
}

/** Check a password against a record's scrypt hash, in constant time. */
export async function verifyPassword(record: PasswordRecord, password: string): Promise<boolean> {
  const s = record?.scrypt;
  if (!s || typeof s.salt !== 'string' || typeof s.hash !== 'string') return false;
  const want = Buffer.from(s.hash, 'base64');
  if (want.length === 0) return false;
  const got = await scrypt(password.normalize('NFC'), Buffer.from(s.salt, 'base64'), want.length, {
    N: s.N,
    r: s.r,
    p: s.p,
    maxmem: scryptMaxmem(s.N, s.r),
  });
  return timingSafeEqual(got, want);
}

/** Validate the shape of a record read from storage. */
export function isPasswordRecord(x: unknown): x is PasswordRecord {
  const r = x as PasswordRecord;
  const okScram = (k: ScramKeys | undefined) =>
    !!k && typeof k.salt === 'string' && Number.isInteger(k.iterations) && typeof k.storedKey === 'string' && typeof k.serverKey === 'string';
  const okCram = (c: CramMd5States | undefined) => c === undefined || (!!c && typeof c.ipad === 'string' && typeof c.opad === 'string');
  return (
    !!r && r.v === 1 && !!r.scrypt && typeof r.scrypt.hash === 'string' && Number.isInteger(r.scrypt.N) && okScram(r.scramSha256) && okScram(r.scramSha1) && okCram(r.cramMd5)
  );
}

// ------------------------------------------------------------------- SCRAM (RFC 5802 §3)

/** SaltedPassword := Hi(Normalize(password), salt, i) — PBKDF2 with HMAC-H. */
export async function scramSaltedPassword(password: string, salt: Buffer, iterations: number, h: ScramHash): Promise<Buffer> {
  return pbkdf2(password, salt, iterations, h === 'sha256' ? 32 : 20, h);
}

function hmac(h: ScramHash, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(h, key).update(data).digest();
}

/** StoredKey and ServerKey for a password (what the server keeps). */
export async function scramKeys(password: string, salt: Buffer, iterations: number, h: ScramHash): Promise<ScramKeys> {
  const salted = await scramSaltedPassword(password, salt, iterations, h);
  const clientKey = hmac(h, salted, 'Client Key');
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: createHash(h).update(clientKey).digest('base64'),
    serverKey: hmac(h, salted, 'Server Key').toString('base64'),
  };
}

/**
 * Server side of SCRAM's proof check: ClientSignature := HMAC(StoredKey, AuthMessage);
 * ClientKey := ClientProof XOR ClientSignature; valid iff H(ClientKey) == StoredKey.
 */
export function scramVerifyClientProof(keys: ScramKeys, h: ScramHash, authMessage: string, clientProof: Buffer): boolean {
  const storedKey = Buffer.from(keys.storedKey, 'base64');
  if (clientProof.length !== storedKey.length) return false;
  const sig = hmac(h, storedKey, authMessage);
  const clientKey = Buffer.alloc(sig.length);
  for (let i = 0; i < sig.length; i++) clientKey[i] = clientProof[i]! ^ sig[i]!;
  return timingSafeEqual(createHash(h).update(clientKey).digest(), storedKey);
}

/** ServerSignature := HMAC(ServerKey, AuthMessage), sent as v= in the server-final-message. */
export function scramServerSignature(keys: ScramKeys, h: ScramHash, authMessage: string): Buffer {
  return hmac(h, Buffer.from(keys.serverKey, 'base64'), authMessage);
}

/** Client side (for tests and our own IMAP/SMTP clients): ClientProof for a password. */
export async function scramClientProof(password: string, keys: Pick<ScramKeys, 'salt' | 'iterations'>, h: ScramHash, authMessage: string): Promise<Buffer> {
  const salted = await scramSaltedPassword(password, Buffer.from(keys.salt, 'base64'), keys.iterations, h);
  const clientKey = hmac(h, salted, 'Client Key');
  const storedKey = createHash(h).update(clientKey).digest();
  const sig = hmac(h, storedKey, authMessage);
  const proof = Buffer.alloc(sig.length);
  for (let i = 0; i < sig.length; i++) proof[i] = clientKey[i]! ^ sig[i]!;
  return proof;
}
