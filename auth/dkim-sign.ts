/**
 * DKIM signing of outgoing messages (rfc6376, rfc8463 for ed25519-sha256), one signature per
 * configured selector, like mox's dkim.Sign.
 *
 * Built from mailauth's own pieces (body canonicalization + hash, header canonicalization and the
 * DKIM-Signature formatting), the same ones its `dkimSign()` uses, so mailauth's verifier and ours
 * agree byte for byte. We don't call `dkimSign()` itself because it can only list header fields
 * that are present in the message in `h=`: it cannot oversign (rfc6376:5.4.2 / 8.15: naming a field
 * one more time than it occurs, so that adding another instance later breaks the signature). mox
 * oversigns; we always oversign From, and all listed fields with `oversign: 'all'`.
 */
import { createHash, sign as cryptoSign, type KeyObject } from 'node:crypto';
import tools from 'mailauth/lib/tools.js';
import bodyMod from 'mailauth/lib/dkim/body/index.js';
import headerMod from 'mailauth/lib/dkim/header/index.js';
import type { ParsedHeaderLine } from 'mailauth/lib/tools.js';

/**
 * Header fields signed by default, close to mox's default DKIM Headers: the fields a recipient
 * sees or that change how the message is shown, decoded or threaded, plus the List-* fields
 * (rfc2369, rfc2919, rfc8058). Bcc is left out: it may be removed after signing.
 */
export const DEFAULT_SIGNED_HEADERS: readonly string[] = [
  'From',
  'To',
  'Cc',
  'Reply-To',
  'References',
  'In-Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'Content-Type',
  'Content-Transfer-Encoding',
  'MIME-Version',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
];

export interface DkimSelectorConfig {
  /** The selector (s=): the key is published at `<selector>._domainkey.<domain>`. */
  selector: string;
  /** PKCS#8 (or PKCS#1 for RSA) PEM private key; RSA or Ed25519 (auth/dkim-keys.ts). */
  privateKeyPem: string;
  /** Hash algorithm; only sha256 (rfc8301:3.1 forbids signing with sha1). */
  hash?: 'sha256';
  /** Header canonicalization relaxed (default) or simple (rfc6376:3.4). */
  headerRelaxed?: boolean;
  /** Body canonicalization relaxed (default) or simple (rfc6376:3.4). */
  bodyRelaxed?: boolean;
  /** Header fields to sign, default DEFAULT_SIGNED_HEADERS. From is always signed (rfc6376:5.4). */
  headers?: string[];
  /**
   * 'from' (default): From is listed once more than it occurs. 'all': every listed field is listed
   * once more than it occurs, also when absent (mox's default, "sealing" the header).
   */
  oversign?: 'from' | 'all';
  /** Signature lifetime in seconds: adds x= (rfc6376:3.5). */
  expirationSeconds?: number;
}

export interface DkimSignOptions {
  /** Signing domain (d=), ASCII or unicode (converted to A-labels). */
  domain: string;
  selectors: DkimSelectorConfig[];
  /** Time source for t= and x= (ms since epoch); default Date. */
  clock?: { now(): number };
}

/** Split a message into its header section (with final CRLF) and body. */
function splitMessage(message: Buffer): { header: Buffer; body: Buffer } {
  // The header ends at the first empty line (rfc5322:2.1); accept bare LF as mailauth's parser does.
  if (message[0] === 0x0a) return { header: Buffer.alloc(0), body: message.subarray(1) };
  if (message[0] === 0x0d && message[1] === 0x0a) return { header: Buffer.alloc(0), body: message.subarray(2) };
  for (let i = 0; i < message.length; i++) {
    if (message[i] !== 0x0a) continue;
    if (message[i + 1] === 0x0a) return { header: message.subarray(0, i + 1), body: message.subarray(i + 2) };
    if (message[i + 1] === 0x0d && message[i + 2] === 0x0a) {
      return { header: message.subarray(0, i + 1), body: message.subarray(i + 3) };
    }
  }
  return { header: message, body: Buffer.alloc(0) };
}

/**
 * The fields to sign, in h= order: for each configured name, every instance present, bottom-up
 * (rfc6376:5.4.2), plus one extra listing for oversigned names.
 */
export function selectSignedHeaders(
  parsed: ParsedHeaderLine[],
  names: readonly string[],
  oversign: 'from' | 'all',
): { keys: string; headers: ParsedHeaderLine[] } {
  const keys: string[] = [];
  const headers: ParsedHeaderLine[] = [];
  const seen = new Set<string>();
  const list = names.some((n) => n.toLowerCase() === 'from') ? names : ['From', ...names];
  for (const name of list) {
    const lower = name.toLowerCase();
    if (seen.has(lower)) continue;
    seen.add(lower);
    const present = parsed.filter((h) => h.key === lower).reverse();
    for (const h of present) {
      keys.push(name);
      headers.push(h);
    }
    if (oversign === 'all' || lower === 'from') keys.push(name);
  }
  return { keys: keys.join(': '), headers };
}

/**
 * DKIM-Signature header fields for `message` (one per selector), each CRLF-terminated and folded,
 * to prepend to the message. Throws if a key can't be used.
 */
/**
 * Parsed private keys by PEM text: parsing an RSA-2048 PEM costs about as much as hashing a small
 * message, and the same few keys sign every submission. KeyObjects are immutable. Bounded; a
 * changed key file gives a different PEM and so a new entry.
 */
const parsedKeys = new Map<string, KeyObject>();
const PARSED_KEYS_MAX = 64;

function privateKey(pem: string): KeyObject {
  let k = parsedKeys.get(pem);
  if (!k) {
    k = tools.getPrivateKey(pem) as KeyObject;
    if (parsedKeys.size >= PARSED_KEYS_MAX) parsedKeys.clear();
    parsedKeys.set(pem, k);
  }
  return k;
}

function signAsync(algorithm: string | null, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => cryptoSign(algorithm, data, key, (err, sig) => (err ? reject(err) : resolve(sig))));
}

export async function dkimSign(message: Buffer, opts: DkimSignOptions): Promise<string> {
  const { header, body } = splitMessage(message);
  return dkimSignParts(header, [body], opts);
}

/**
 * dkimSign for a message given as its header section (the fields with their line endings, without
 * the empty line) and its body as chunks, e.g. streamed from a file: a large message is never
 * held whole in memory.
 */
export async function dkimSignParts(header: Buffer, body: AsyncIterable<Buffer> | Iterable<Buffer>, opts: DkimSignOptions): Promise<string> {
  if (!opts.selectors.length) return '';
  const clock = opts.clock ?? Date;
  const parsed = tools.parseHeaders(header).parsed.filter((h) => h.key);
  const signTime = new Date(Math.floor(clock.now() / 1000) * 1000);

  // Check every key before reading the body.
  const sels = opts.selectors.map((sel) => {
    const key = privateKey(sel.privateKeyPem);
    const keyType = key.asymmetricKeyType;
    if (keyType !== 'rsa' && keyType !== 'ed25519') {
      throw new Error(`dkim selector ${sel.selector}: unsupported key type ${keyType ?? 'unknown'}`);
    }
    const hash = sel.hash ?? 'sha256';
    if (hash !== 'sha256') throw new Error(`dkim selector ${sel.selector}: unsupported hash ${String(hash)}`);
    return { sel, key, keyType, hash, bc: sel.bodyRelaxed === false ? 'simple' : 'relaxed' };
  });

  // One body hash per body canonicalization in use, fed chunk by chunk.
  const hashers = new Map(sels.map((s) => [s.bc, bodyMod.dkimBody(s.bc, 'sha256', false)] as const));
  let fed = false;
  for await (const chunk of body) {
    fed = true;
    for (const h of hashers.values()) h.update(chunk);
  }
  if (!fed) for (const h of hashers.values()) h.update(Buffer.alloc(0));
  const bodyHashes = new Map([...hashers].map(([bc, h]) => [bc, h.digest('base64')] as const));

  const out: Array<Promise<string>> = [];
  for (const { sel, key, keyType, hash, bc } of sels) {
    const algorithm = `${keyType}-${hash}`;
    const hc = sel.headerRelaxed === false ? 'simple' : 'relaxed';
    const bodyHash = bodyHashes.get(bc)!;
    const signing = selectSignedHeaders(parsed, sel.headers ?? DEFAULT_SIGNED_HEADERS, sel.oversign ?? 'from');
    const expires =
      sel.expirationSeconds !== undefined && sel.expirationSeconds > 0
        ? new Date(signTime.getTime() + sel.expirationSeconds * 1000)
        : undefined;
    const { canonicalizedHeader, dkimHeaderOpts } = headerMod.generateCanonicalizedHeader('DKIM', signing, {
      signingDomain: opts.domain,
      selector: sel.selector,
      algorithm,
      canonicalization: `${hc}/${bc}`,
      bodyHash,
      signTime,
      expires,
    });
    // rfc6376:3.7 (RSA signs the canonicalized data with SHA-256); rfc8463:3 (Ed25519 signs the SHA-256 hash).
    // The signature itself runs on the libuv thread pool (an RSA-2048 signature costs ~0.75 ms of
    // CPU here): the event loop goes on with other work, and the selectors are signed in parallel.
    const signature =
      keyType === 'rsa'
        ? signAsync('rsa-sha256', canonicalizedHeader, key)
        : signAsync(null, createHash('sha256').update(canonicalizedHeader).digest(), key);
    out.push(
      signature.then((sig) => tools.formatSignatureHeaderLine('DKIM', { ...dkimHeaderOpts, b: sig.toString('base64') }, true).replace(/\r?\n/g, '\r\n') + '\r\n'),
    );
  }
  return (await Promise.all(out)).join('');
}
