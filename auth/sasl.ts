/**
 * Server side of SASL (RFC 4422), independent of the protocol carrying it: SMTP submission AUTH
 * (RFC 4954), IMAP AUTHENTICATE (RFC 9051, SASL-IR RFC 4959), and later others.
 *
 * Mechanisms:
 * - PLAIN (RFC 4616): authzid must be empty or name the authentication identity itself.
 * - LOGIN (draft-murchison-sasl-login-00): "Username:" and "Password:" challenges; the initial
 *   response, if any, is the username.
 * - SCRAM-SHA-256 (RFC 7677) and SCRAM-SHA-1 (RFC 5802), without channel binding (gs2 flag "n",
 *   or "y" when we do not offer -PLUS on this connection), and SCRAM-SHA-256-PLUS /
 *   SCRAM-SHA-1-PLUS when the protocol passes channel-binding data (`opts.channelBinding`).
 * - CRAM-MD5 (RFC 2195): checked against the HMAC-MD5 states kept in the password record (no
 *   password needed); accounts whose record predates them fail like a wrong password. Offered like
 *   PLAIN/LOGIN (over TLS unless `allowPlaintextWithoutTls`): a captured exchange can be brute-forced
 *   offline, and the stored states are a CRAM-MD5 password equivalent.
 *
 * A session is a state machine: `step(data)` takes the client's decoded response (`null` = no
 * initial response) and answers a challenge to send, success, or failure. `stepText(line)` does the
 * protocol text form: "*" cancels, "=" is an empty initial response, anything else must be strict
 * base64 (else failure "malformed": SMTP 501, IMAP BAD).
 *
 * User enumeration: an unknown user goes through the same work as a wrong password (scrypt with a
 * fake record of the default cost for PLAIN/LOGIN; SCRAM with a fake salt that is stable per
 * username for the life of the process and fake keys) and gets the same failure.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import {
  SCRAM_ITERATIONS,
  SCRYPT_KEYLEN,
  SCRYPT_N,
  SCRYPT_P,
  SCRYPT_R,
  scramClientProof,
  scramKeys,
  scramServerSignature,
  scramVerifyClientProof,
  cramMd5Digest,
  cramMd5States,
  verifyPassword,
  type PasswordRecord,
  type ScramHash,
  type ScramKeys,
} from './password.js';

export type SaslMechanism = 'PLAIN' | 'LOGIN' | 'CRAM-MD5' | 'SCRAM-SHA-256' | 'SCRAM-SHA-1' | 'SCRAM-SHA-256-PLUS' | 'SCRAM-SHA-1-PLUS';

/** Mechanisms without channel binding, strongest first (the order to advertise them in). */
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'CRAM-MD5', 'PLAIN', 'LOGIN'];
/** Channel-binding variants, usable only when the protocol supplies `channelBinding`. */
export const SASL_PLUS_MECHANISMS: readonly SaslMechanism[] = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS'];

const ALL_MECHANISMS = new Set<string>([...SASL_MECHANISMS, ...SASL_PLUS_MECHANISMS]);

/** Is `name` (any case) a mechanism startSasl knows? */
export function isSaslMechanism(name: string): boolean {
  return ALL_MECHANISMS.has(name.toUpperCase());
}

/**
 * Mechanisms protocols offer only over TLS by default: PLAIN and LOGIN carry the password itself,
 * CRAM-MD5 a digest an eavesdropper can brute-force offline.
 */
export function isPlaintextMechanism(m: string): boolean {
  const u = m.toUpperCase();
  return u === 'PLAIN' || u === 'LOGIN' || u === 'CRAM-MD5';
}

export interface SaslLookupResult<A> {
  account: A;
  record: PasswordRecord;
}

/** Finds the account and password record for a login name; undefined when there is none. */
export type SaslLookup<A> = (username: string) => Promise<SaslLookupResult<A> | undefined>;

/** RFC 5056 channel-binding data of this connection (e.g. tls-exporter, RFC 9266). */
export interface ChannelBinding {
  type: 'tls-exporter' | 'tls-unique' | 'tls-server-end-point';
  data: Buffer;
}

/**
 * RFC 9266 tls-exporter channel binding of a TLS 1.3 connection (32 bytes of the exporter with
 * label "EXPORTER-Channel-Binding", empty context); undefined for anything else. TLS 1.2 exporters
 * are only safe with the extended master secret (RFC 7627), which Node does not report, and
 * tls-unique is not offered; so -PLUS is advertised only on TLS 1.3 connections.
 */
export function tlsExporterBinding(socket: TLSSocket): ChannelBinding | undefined {
  if (!socket.encrypted || socket.getProtocol() !== 'TLSv1.3') return undefined;
  return { type: 'tls-exporter', data: socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)) };
}

export interface SaslOptions<A> {
  lookup: SaslLookup<A>;
  /** Is the connection TLS-protected? PLAIN and LOGIN fail with 'tlsrequired' without it… */
  tls: boolean;
  /** …unless this is set (mox's NoRequireSTARTTLS / localserve). */
  allowPlaintextWithoutTls?: boolean;
  /**
   * Pass exactly when the -PLUS mechanisms are advertised on this connection: then a SCRAM client
   * saying "y" (it could bind but thinks we cannot) is a downgrade and fails (RFC 5802 §6).
   */
  channelBinding?: ChannelBinding;
  /** Server nonce for SCRAM (tests); default 24 random bytes, base64. */
  nonce?: () => string;
  /** Host name in the CRAM-MD5 challenge (rfc2195:2); default "localhost". */
  hostname?: string;
}

/** Why an exchange failed. Protocols map these to replies: */
export type SaslFailureReason =
  /** wrong password, unknown user, authzid naming someone else: SMTP 535 5.7.8, IMAP NO [AUTHENTICATIONFAILED] */
  | 'badcreds'
  /** bad base64 or mechanism syntax: SMTP 501 5.5.2, IMAP BAD */
  | 'malformed'
  /** client sent "*": SMTP 501 5.0.0, IMAP BAD */
  | 'aborted'
  /** PLAIN/LOGIN without TLS: SMTP 538 5.7.11, IMAP NO [PRIVACYREQUIRED] */
  | 'tlsrequired'
  /** mechanism not known/offered: SMTP 504 5.5.4, IMAP NO */
  | 'unsupported'
  /** the account lookup threw: SMTP 454 4.7.0, IMAP NO [SERVERBUG] */
  | 'error';

export type SaslStep<A> =
  | { challenge: Buffer }
  | { done: true; account: A; username: string }
  | {
      failed: true;
      reason: SaslFailureReason;
      /** Short text for logs and replies; the same for unknown users and wrong passwords. */
      message: string;
      username?: string;
      /**
       * The account the name belongs to, when it exists and the password was wrong: for the
       * login-attempt record (the account's own UI shows attempts on it). Never tell the client.
       */
      account?: A;
      /** For reason 'error': what the lookup threw (log it; never tell the client). */
      error?: unknown;
    };

export interface SaslSession<A> {
  readonly mechanism: SaslMechanism | string;
  /** The login name the client gave, once known (for the login-attempt record). */
  readonly username: string | undefined;
  /** Has the session finished (done or failed)? Further steps fail. */
  readonly finished: boolean;
  /** Next step with the client's decoded data; null = no initial response given. */
  step(clientData: Buffer | null): Promise<SaslStep<A>>;
  /**
   * Next step with the protocol's text form: null = no initial response, "*" = cancel, "=" = empty
   * initial response (RFC 4954, RFC 4959), otherwise strict base64.
   */
  stepText(line: string | null): Promise<SaslStep<A>>;
}

/** Strict base64 (RFC 4648 §4, padding required, no whitespace); undefined when malformed. */
export function decodeBase64Strict(s: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return undefined;
  return Buffer.from(s, 'base64');
}

/** Usernames are email addresses: the domain is case-insensitive, the localpart is compared as is. */
export function normalizeLoginName(name: string): string {
  const n = name.normalize('NFC');
  const at = n.lastIndexOf('@');
  return at < 0 ? n : n.slice(0, at) + '@' + n.slice(at + 1).toLowerCase();
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function decodeUtf8(b: Buffer): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ fake records (no enumeration)

/** Random per process: keys the fake SCRAM salts so they are stable per username. */
const fakeSecret = randomBytes(32);
let fakeScryptRecord: PasswordRecord | undefined;

/**
 * A record that verifies nothing, with the default costs: verifying a password against it costs
 * what a real record costs. No hashing is needed to make it (its hash is random).
 */
export function fakeRecord(): PasswordRecord {
  if (!fakeScryptRecord) {
    const rnd = (n: number) => randomBytes(n).toString('base64');
    const scram = (len: number): ScramKeys => ({ salt: rnd(16), iterations: SCRAM_ITERATIONS, storedKey: rnd(len), serverKey: rnd(len) });
    fakeScryptRecord = {
      v: 1,
      scrypt: { N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P, salt: rnd(16), hash: rnd(SCRYPT_KEYLEN) },
      scramSha256: scram(32),
      scramSha1: scram(20),
    };
  }
  return fakeScryptRecord;
}

/** Fake SCRAM keys for an unknown user: the salt depends only on the name, so asking twice matches. */
function fakeScramKeys(username: string, h: ScramHash): ScramKeys {
  const salt = createHmac('sha256', fakeSecret).update(`${h}\0${normalizeLoginName(username)}`).digest().subarray(0, 16);
  const len = h === 'sha256' ? 32 : 20;
  return { salt: salt.toString('base64'), iterations: SCRAM_ITERATIONS, storedKey: randomBytes(len).toString('base64'), serverKey: randomBytes(len).toString('base64') };
}

// ------------------------------------------------------------------ sessions

type Handler<A> = (data: Buffer | null) => Promise<SaslStep<A>>;

class Session<A> implements SaslSession<A> {
  username: string | undefined;
  finished = false;
  private handler: Handler<A>;
  private first = true;

  constructor(
    readonly mechanism: SaslMechanism | string,
    start: (s: Session<A>) => Handler<A>,
  ) {
    this.handler = start(this);
  }

  /** Set the next handler (mechanisms call this between steps). */
  next(h: Handler<A>): void {
    this.handler = h;
  }

  fail(reason: SaslFailureReason, message: string, account?: { account: A }): SaslStep<A> {
    this.finished = true;
    return { failed: true, reason, message, ...(this.username !== undefined ? { username: this.username } : {}), ...(account ? { account: account.account } : {}) };
  }

  done(account: A): SaslStep<A> {
    this.finished = true;
    return { done: true, account, username: this.username ?? '' };
  }

  async step(clientData: Buffer | null): Promise<SaslStep<A>> {
    if (this.finished) return { failed: true, reason: 'malformed', message: 'authentication already finished' };
    const initial = this.first;
    this.first = false;
    if (clientData === null && !initial) return this.fail('malformed', 'missing response');
    try {
      return await this.handler(clientData);
    } catch (error) {
      this.finished = true;
      return { failed: true, reason: 'error', message: 'temporary server error', error, ...(this.username !== undefined ? { username: this.username } : {}) };
    }
  }

  async stepText(line: string | null): Promise<SaslStep<A>> {
    if (this.finished) return { failed: true, reason: 'malformed', message: 'authentication already finished' };
    if (line === null) return this.step(null);
    if (line === '*') {
      this.first = false;
      return this.fail('aborted', 'authentication aborted by client');
    }
    if (line === '=' && this.first) return this.step(Buffer.alloc(0));
    const data = decodeBase64Strict(line);
    if (!data) {
      this.first = false;
      return this.fail('malformed', 'invalid base64');
    }
    return this.step(data);
  }
}

/**
 * Start a server-side SASL exchange. An unknown mechanism gives a session whose first step fails
 * with 'unsupported'; PLAIN/LOGIN without TLS one that fails with 'tlsrequired'.
 */
export function startSasl<A>(mechanism: string, opts: SaslOptions<A>): SaslSession<A> {
  const mech = mechanism.toUpperCase();
  if (isPlaintextMechanism(mech) && !opts.tls && !opts.allowPlaintextWithoutTls) {
    return new Session<A>(mech, (s) => async () => s.fail('tlsrequired', 'TLS required for this mechanism'));
  }
  switch (mech) {
    case 'PLAIN':
      return new Session<A>(mech, (s) => plain(s, opts));
    case 'LOGIN':
      return new Session<A>(mech, (s) => login(s, opts));
    case 'CRAM-MD5':
      return new Session<A>(mech, (s) => cramMd5(s, opts));
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-1':
    case 'SCRAM-SHA-256-PLUS':
    case 'SCRAM-SHA-1-PLUS': {
      const plus = mech.endsWith('-PLUS');
      if (plus && !opts.channelBinding) {
        return new Session<A>(mech, (s) => async () => s.fail('unsupported', 'channel binding not available on this connection'));
      }
      return new Session<A>(mech, (s) => scram(s, opts, mech.startsWith('SCRAM-SHA-256') ? 'sha256' : 'sha1', plus));
    }
    default:
      return new Session<A>(mech, (s) => async () => s.fail('unsupported', 'mechanism not supported'));
  }
}

/** Verify a password for username, with the fake record for unknown users. */
async function checkPassword<A>(s: Session<A>, opts: SaslOptions<A>, username: string, password: string): Promise<SaslStep<A>> {
  s.username = username;
  const found = await opts.lookup(username);
  const ok = await verifyPassword(found?.record ?? fakeRecord(), password);
  if (!ok || !found) return s.fail('badcreds', 'invalid credentials', found);
  return s.done(found.account);
}

// ------------------------------------------------------------------ PLAIN (RFC 4616)

function plain<A>(s: Session<A>, opts: SaslOptions<A>): Handler<A> {
  const respond: Handler<A> = async (data) => {
    const text = decodeUtf8(data!);
    if (text === undefined) return s.fail('malformed', 'invalid UTF-8');
    const parts = text.split('\0');
    if (parts.length !== 3) return s.fail('malformed', 'expected authzid NUL authcid NUL password');
    const [authzid, rawAuthcid, password] = parts as [string, string, string];
    const authcid = rawAuthcid.normalize('NFC'); // SASLprep (RFC 4616 §2), simplified to NFC like passwords
    if (!authcid || !password) return s.fail('malformed', 'empty username or password');
    s.username = authcid;
    if (authzid !== '' && normalizeLoginName(authzid) !== normalizeLoginName(authcid)) {
      return s.fail('badcreds', 'authorization identity must be empty or equal the authentication identity');
    }
    return checkPassword(s, opts, authcid, password);
  };
  return async (data) => {
    if (data === null) {
      s.next(respond);
      return { challenge: Buffer.alloc(0) };
    }
    return respond(data);
  };
}

// ------------------------------------------------------------------ LOGIN (draft-murchison-sasl-login)

function login<A>(s: Session<A>, opts: SaslOptions<A>): Handler<A> {
  const password: Handler<A> = async (data) => {
    const pw = decodeUtf8(data!);
    if (pw === undefined) return s.fail('malformed', 'invalid UTF-8');
    if (!pw) return s.fail('malformed', 'empty password');
    return checkPassword(s, opts, s.username!, pw);
  };
  const username: Handler<A> = async (data) => {
    const u = decodeUtf8(data!);
    if (u === undefined) return s.fail('malformed', 'invalid UTF-8');
    if (!u) return s.fail('malformed', 'empty username');
    s.username = u.normalize('NFC');
    s.next(password);
    return { challenge: Buffer.from('Password:') };
  };
  return async (data) => {
    if (data === null || data.length === 0) {
      // No (or an empty) initial response: ask for the username.
      s.next(username);
      return { challenge: Buffer.from('Username:') };
    }
    return username(data);
  };
}

// ------------------------------------------------------------------ CRAM-MD5 (RFC 2195)

/** Fake states for unknown users (random per process): the same work and failure as a wrong password. */
const fakeCramStates = cramMd5States(randomBytes(16).toString('base64'));

function cramMd5<A>(s: Session<A>, opts: SaslOptions<A>): Handler<A> {
  // rfc2195:2 the challenge is a unique msg-id-like string; the client answers
  // "username SP hex(HMAC-MD5(password, challenge))" (lower-case hex, 32 digits).
  const challenge = Buffer.from(`<${randomBytes(12).toString('hex')}.${Date.now()}@${opts.hostname ?? 'localhost'}>`);
  const respond: Handler<A> = async (data) => {
    const text = decodeUtf8(data!);
    if (text === undefined) return s.fail('malformed', 'invalid UTF-8');
    const sp = text.lastIndexOf(' ');
    if (sp <= 0) return s.fail('malformed', 'expected "username digest"');
    const digest = text.slice(sp + 1);
    if (!/^[0-9a-fA-F]{32}$/.test(digest)) return s.fail('malformed', 'invalid digest');
    s.username = text.slice(0, sp).normalize('NFC');
    const found = await opts.lookup(s.username);
    const states = found?.record.cramMd5 ?? fakeCramStates;
    const ok = timingSafeEqual(cramMd5Digest(states, challenge), Buffer.from(digest, 'hex'));
    // A record without CRAM-MD5 states (password set before they existed) fails as a wrong password.
    if (!ok || !found || !found.record.cramMd5) return s.fail('badcreds', 'invalid credentials', found);
    return s.done(found.account);
  };
  return async (data) => {
    // rfc2195:2 the server speaks first: an initial response is a protocol error.
    if (data !== null) return s.fail('malformed', 'CRAM-MD5 takes no initial response');
    s.next(respond);
    return { challenge };
  };
}

// ------------------------------------------------------------------ SCRAM (RFC 5802, RFC 7677)

/** saslname decoding: "=2C" → ",", "=3D" → "=", any other "=" is an error. */
function decodeSaslname(s: string): string | undefined {
  if (s === '' || /=(?!2C|3D)/.test(s)) return undefined;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** Printable ASCII except ",": RFC 5802 `printable`. */
const NONCE_RE = /^[\x21-\x2b\x2d-\x7e]+$/;

function scram<A>(s: Session<A>, opts: SaslOptions<A>, h: ScramHash, plus: boolean): Handler<A> {
  const clientFirst: Handler<A> = async (data) => {
    const text = decodeUtf8(data!);
    if (text === undefined) return s.fail('malformed', 'invalid UTF-8');
    // gs2-header = gs2-cbind-flag "," [authzid] ","
    const m = /^(n|y|p=([A-Za-z0-9.-]+)),(a=[^,]*)?,(.*)$/s.exec(text);
    if (!m) return s.fail('malformed', 'invalid gs2 header');
    const [, flag, cbName, authzAttr, bare] = m as unknown as [string, string, string | undefined, string | undefined, string];
    const gs2Header = text.slice(0, text.length - bare.length);
    if (plus) {
      if (cbName === undefined) return s.fail('malformed', 'channel binding required with -PLUS mechanism');
      if (cbName !== opts.channelBinding!.type) return s.fail('malformed', 'unsupported channel binding type');
    } else if (cbName !== undefined) {
      // p= with a non-PLUS mechanism: the client must not do this (RFC 5802 §6).
      return s.fail('malformed', 'channel binding not supported with this mechanism');
    } else if (flag === 'y' && opts.channelBinding) {
      // The client could bind, thinks we cannot, but we advertise -PLUS: downgrade attack.
      return s.fail('malformed', 'server does support channel binding');
    }
    // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
    const attrs = bare.split(',');
    if (attrs[0]?.startsWith('m=')) return s.fail('malformed', 'mandatory extensions not supported');
    if (attrs.length < 2 || !attrs[0]!.startsWith('n=') || !attrs[1]!.startsWith('r=')) return s.fail('malformed', 'expected n= and r=');
    // Further attributes are optional extensions, which must be ignored (RFC 5802 §5.1), but must
    // still be well formed.
    if (attrs.slice(2).some((a) => !/^[A-Za-z]=/.test(a))) return s.fail('malformed', 'invalid attribute');
    const username = decodeSaslname(attrs[0]!.slice(2));
    if (username === undefined) return s.fail('malformed', 'invalid username');
    s.username = username.normalize('NFC');
    if (authzAttr !== undefined) {
      const authzid = decodeSaslname(authzAttr.slice(2));
      if (authzid === undefined) return s.fail('malformed', 'invalid authzid');
      if (normalizeLoginName(authzid) !== normalizeLoginName(s.username)) {
        return s.fail('badcreds', 'authorization identity must equal the authentication identity');
      }
    }
    const clientNonce = attrs[1]!.slice(2);
    if (!NONCE_RE.test(clientNonce)) return s.fail('malformed', 'invalid nonce');

    const found = await opts.lookup(s.username);
    const keys = found ? (h === 'sha256' ? found.record.scramSha256 : found.record.scramSha1) : fakeScramKeys(s.username, h);
    const nonce = clientNonce + (opts.nonce ? opts.nonce() : randomBytes(24).toString('base64'));
    const serverFirst = `r=${nonce},s=${keys.salt},i=${keys.iterations}`;

    s.next(async (data2) => {
      const text2 = decodeUtf8(data2!);
      if (text2 === undefined) return s.fail('malformed', 'invalid UTF-8');
      // client-final-message = c=… "," r=… ["," extensions] "," p=…
      const pi = text2.lastIndexOf(',p=');
      if (pi < 0) return s.fail('malformed', 'missing proof');
      const withoutProof = text2.slice(0, pi);
      const proof = decodeBase64Strict(text2.slice(pi + 3));
      if (!proof) return s.fail('malformed', 'invalid proof');
      const a2 = withoutProof.split(',');
      if (a2.length < 2 || !a2[0]!.startsWith('c=') || !a2[1]!.startsWith('r=')) return s.fail('malformed', 'expected c= and r=');
      if (a2.slice(2).some((a) => !/^[A-Za-z]=/.test(a))) return s.fail('malformed', 'invalid attribute');
      const cb = decodeBase64Strict(a2[0]!.slice(2));
      if (!cb) return s.fail('malformed', 'invalid channel binding');
      const wantCb = plus ? Buffer.concat([Buffer.from(gs2Header), opts.channelBinding!.data]) : Buffer.from(gs2Header);
      if (!cb.equals(wantCb)) return s.fail('malformed', 'channel binding mismatch');
      if (a2[1]!.slice(2) !== nonce) return s.fail('malformed', 'nonce mismatch');
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const ok = scramVerifyClientProof(keys, h, authMessage, proof);
      if (!ok || !found) return s.fail('badcreds', 'invalid credentials', found);
      const verifier = scramServerSignature(keys, h, authMessage);
      const account = found.account;
      s.next(async (data3) => {
        // The client acknowledges the server-final-message with an empty response.
        if (data3!.length !== 0) return s.fail('malformed', 'expected empty response');
        return s.done(account);
      });
      return { challenge: Buffer.from(`v=${verifier.toString('base64')}`) };
    });
    return { challenge: Buffer.from(serverFirst) };
  };
  return async (data) => {
    if (data === null) {
      s.next(clientFirst);
      return { challenge: Buffer.alloc(0) };
    }
    return clientFirst(data);
  };
}

// ------------------------------------------------------------------ client side (tests, our own clients)

export interface SaslClientOptions {
  username: string;
  password: string;
  /** PLAIN/SCRAM authorization identity (default none). */
  authzid?: string;
  /** LOGIN: send the username as initial response (default: wait for "Username:"). */
  loginInitialResponse?: boolean;
  /** SCRAM client nonce (tests); default 18 random bytes, base64. */
  nonce?: string;
  /** SCRAM gs2 flag to send without -PLUS: "n" (default) or "y". */
  gs2Flag?: 'n' | 'y';
  /** For -PLUS mechanisms: the channel-binding data the client sees. */
  channelBinding?: ChannelBinding;
}

export interface SaslClient {
  readonly mechanism: string;
  /** The initial response to send with the command (SASL-IR), undefined when there is none. */
  initialResponse(): Promise<Buffer | undefined>;
  /** Answer a server challenge. SCRAM: throws when the server signature (v=) is wrong. */
  respond(challenge: Buffer): Promise<Buffer>;
  /** SCRAM: has the server proven it holds the keys? (PLAIN/LOGIN: always false.) */
  readonly serverVerified: boolean;
}

function encodeSaslname(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** Client side of each mechanism, the mirror of startSasl. */
export function saslClient(mechanism: string, o: SaslClientOptions): SaslClient {
  const mech = mechanism.toUpperCase();
  switch (mech) {
    case 'PLAIN': {
      const msg = () => Buffer.from(`${o.authzid ?? ''}\0${o.username}\0${o.password}`);
      return { mechanism: mech, serverVerified: false, initialResponse: async () => msg(), respond: async () => msg() };
    }
    case 'LOGIN':
      return {
        mechanism: mech,
        serverVerified: false,
        initialResponse: async () => (o.loginInitialResponse ? Buffer.from(o.username) : undefined),
        respond: async (c) => {
          const t = c.toString().toLowerCase();
          if (t.startsWith('username')) return Buffer.from(o.username);
          if (t.startsWith('password')) return Buffer.from(o.password);
          throw new Error(`unexpected LOGIN challenge ${JSON.stringify(c.toString())}`);
        },
      };
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-1':
    case 'SCRAM-SHA-256-PLUS':
    case 'SCRAM-SHA-1-PLUS':
      return scramClient(mech, o);
    case 'CRAM-MD5':
      // rfc2195:2 "username hex(HMAC-MD5(password, challenge))" (the queue's smarthost client).
      return {
        mechanism: mech,
        serverVerified: false,
        initialResponse: async () => undefined,
        respond: async (c) => Buffer.from(`${o.username} ${createHmac('md5', o.password).update(c).digest('hex')}`),
      };
    default:
      throw new Error(`unsupported mechanism ${mechanism}`);
  }
}

function scramClient(mech: string, o: SaslClientOptions): SaslClient {
  const h: ScramHash = mech.startsWith('SCRAM-SHA-256') ? 'sha256' : 'sha1';
  const plus = mech.endsWith('-PLUS');
  if (plus && !o.channelBinding) throw new Error('-PLUS needs channelBinding');
  const gs2Header = `${plus ? `p=${o.channelBinding!.type}` : (o.gs2Flag ?? 'n')},${o.authzid !== undefined ? `a=${encodeSaslname(o.authzid)}` : ''},`;
  const clientNonce = o.nonce ?? randomBytes(18).toString('base64');
  const bare = `n=${encodeSaslname(o.username.normalize('NFC'))},r=${clientNonce}`;
  const password = o.password.normalize('NFC');
  let state: 'first' | 'final' | 'verify' | 'done' = 'first';
  let expectedVerifier: Buffer | undefined;
  const client = {
    mechanism: mech,
    serverVerified: false,
    initialResponse: async () => {
      state = 'final';
      return Buffer.from(gs2Header + bare);
    },
    respond: async (c: Buffer): Promise<Buffer> => {
      if (state === 'first') return client.initialResponse();
      if (state === 'final') {
        const serverFirst = c.toString();
        const m = /^r=([^,]+),s=([^,]+),i=(\d+)(,.*)?$/.exec(serverFirst);
        if (!m || !m[1]!.startsWith(clientNonce)) throw new Error(`bad server-first-message ${JSON.stringify(serverFirst)}`);
        const salt = Buffer.from(m[2]!, 'base64');
        const iterations = Number(m[3]);
        const cbData = plus ? Buffer.concat([Buffer.from(gs2Header), o.channelBinding!.data]) : Buffer.from(gs2Header);
        const withoutProof = `c=${cbData.toString('base64')},r=${m[1]}`;
        const authMessage = `${bare},${serverFirst},${withoutProof}`;
        const keys = await scramKeys(password, salt, iterations, h);
        const proof = await scramClientProof(password, keys, h, authMessage);
        expectedVerifier = scramServerSignature(keys, h, authMessage);
        state = 'verify';
        return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
      }
      if (state === 'verify') {
        const t = c.toString();
        const v = /^v=([A-Za-z0-9+/=]+)$/.exec(t);
        if (!v || !Buffer.from(v[1]!, 'base64').equals(expectedVerifier!)) throw new Error(`server signature mismatch: ${JSON.stringify(t)}`);
        client.serverVerified = true;
        state = 'done';
        return Buffer.alloc(0);
      }
      throw new Error('SCRAM exchange already finished');
    },
  };
  return client;
}
