/**
 * Standard Webhooks v1 signatures (https://www.standardwebhooks.com, spec 1.0.0; see
 * ../shared/reference/mailio-and-esps.md B.6): HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>"
 * with the secret's bytes (base64 after the "whsec_" prefix), sent as "v1,<base64>". Several
 * signatures (key rotation) are separated by spaces. `verifyWebhook` is the receiver side, the
 * same few lines the README shows app developers.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Receivers reject timestamps further than this from their clock (the reference libraries' ±5 minutes). */
export const DEFAULT_TOLERANCE_S = 5 * 60;

function secretBytes(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/** Decoded secrets as key objects (a sender signs every request with one of a few secrets). */
const keys = new Map<string, KeyObject>();
function secretKey(secret: string): KeyObject {
  let k = keys.get(secret);
  if (!k) {
    k = createSecretKey(secretBytes(secret));
    if (keys.size >= 1_000) keys.clear();
    keys.set(secret, k);
  }
  return k;
}

/** "v1,<base64 HMAC-SHA256(id.timestamp.body)>" for one secret. */
export function signature(secret: string, id: string, timestamp: number, body: string | Buffer): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/** The webhook-signature header value: one signature per secret, space-separated. */
export function signatureHeader(secrets: readonly string[], id: string, timestamp: number, body: string | Buffer): string {
  return secrets.map((s) => signature(s, id, timestamp, body)).join(' ');
}

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/**
 * Verify a received webhook: the raw body bytes as received, and its webhook-id,
 * webhook-timestamp and webhook-signature headers. Throws WebhookVerificationError for a missing
 * header, a timestamp outside the tolerance (replays) or no matching signature.
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string | Buffer,
  opts: { now?: number; toleranceS?: number } = {},
): void {
  const h = (n: string) => {
    const v = headers[n];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = h('webhook-id');
  const ts = h('webhook-timestamp');
  const sigs = h('webhook-signature');
  if (!id || !ts || !sigs) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature header');
  const t = Number(ts);
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  if (!/^\d+$/.test(ts) || Math.abs(now - t) > (opts.toleranceS ?? DEFAULT_TOLERANCE_S)) throw new WebhookVerificationError('timestamp too old or too new');
  const expected = Buffer.from(signature(secret, id, t, body).slice(3), 'base64');
  for (const s of sigs.split(' ')) {
    const [version, mac] = s.split(',', 2);
    if (version !== 'v1' || !mac) continue;
    const got = Buffer.from(mac, 'base64');
    if (got.length === expected.length && timingSafeEqual(got, expected)) return;
  }
  throw new WebhookVerificationError('no matching signature');
}
