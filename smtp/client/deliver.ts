/**
 * One delivery attempt of a message to the recipients of one domain, directly to the domain's MX
 * hosts (rfc5321:5): what the queue calls for each attempt. Returns a result per recipient plus
 * one record per connection made (the attempt history).
 *
 * Order of work: resolve MX (mx.ts; null MX → permanent 5.1.10) → per host in preference order,
 * per IP (AAAA, A): connect → greeting → EHLO (HELO fallback) → opportunistic STARTTLS (a failed
 * handshake reconnects to the same IP in plaintext, unless TLS is required) → EHLO again →
 * SMTPUTF8 / SIZE checks → MAIL, RCPT…, DATA (pipelined when offered) → message → QUIT.
 * A connection or greeting failure, or a 4xx/5xx before the transaction (greeting, EHLO) or a 4xx
 * at MAIL moves on to the next IP/host. From the RCPT replies on, the outcome is final for this
 * attempt: per-recipient results, no other host is tried.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket as TLSSocketClass, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { saslClient, tlsExporterBinding } from '../../auth/sasl.js';
import { open, type FileHandle } from 'node:fs/promises';
import type { Resolver } from '../../dns/resolver.js';
import { nullLogger, type Logger } from '../../log/logger.js';
import { dotStuff } from '../data.js';
import { E, enhancedCode } from '../codes.js';
import { resolveMx, resolveHostIPs, HostLookupError, type MxResult } from './mx.js';
import { Wire, WireError, DotStuffer, type Reply } from './wire.js';

export interface DeliverRecipient {
  address: string;
  /** DSN NOTIFY (rfc3461:4.1): "NEVER" or any of SUCCESS, FAILURE, DELAY. */
  notify?: string | string[];
  /** DSN ORCPT (rfc3461:4.2): "addr-type;address" or a plain address (then rfc822, or utf-8 if non-ASCII). */
  orcpt?: string;
}

export type RecipientStatus = 'delivered' | 'temporary' | 'permanent';

export interface RecipientResult {
  address: string;
  status: RecipientStatus;
  /** Reply code from the remote server; absent for local decisions (DNS, connection, size check). */
  code?: number;
  /** Enhanced status code: the remote's, or one we chose (e.g. "5.1.10" for null MX). */
  enhanced?: string;
  message: string;
  remoteHost?: string;
  remoteIP?: string;
  /** Delivered to a server that advertised DSN: the NOTIFY request was passed on (rfc3461:5.2.2). */
  dsnPassedOn?: boolean;
}

export interface TLSInfo {
  version: string;
  cipher: string;
  /** Whether the certificate verified against the trusted CAs (only enforced with verify). */
  authorized: boolean;
}

/** One connection made during the attempt. */
export interface AttemptRecord {
  host: string;
  ip: string;
  port: number;
  /** Milliseconds since the epoch (from the injected clock). */
  start: number;
  durationMs: number;
  /** Why this connection did not deliver (absent when the transaction completed). */
  error?: string;
  tls?: TLSInfo;
}

/** SMTP AUTH with a smarthost (rfc4954). */
export interface SmtpAuth {
  username: string;
  password: string;
  /** In order of preference; default SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1-PLUS, SCRAM-SHA-1, CRAM-MD5 (PLAIN only when listed, as mox). */
  mechanisms?: readonly string[];
}

export const DEFAULT_AUTH_MECHANISMS = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1', 'CRAM-MD5'] as const;

export interface DeliveryResult {
  /** In the order of `recipients` given. */
  recipients: RecipientResult[];
  attempts: AttemptRecord[];
  /** What the MX lookup said (for logs and the admin UI). */
  mx: MxResult['kind'];
}

/**
 * Per-host TLS policy: the hook where MTA-STS (enforce → require + verify, rfc8461:5) and DANE
 * (rfc7672) plug in later. `require` fails the host when TLS cannot be established.
 */
export interface TLSPolicy {
  require?: boolean;
  verify?: boolean;
  /** Extra node TLS options for this host (e.g. a DANE checkServerIdentity). */
  tls?: ConnectionOptions;
}

export interface Clock {
  now(): number;
}

export interface DeliverOptions {
  domain: string;
  /** Reverse path; "" for the null reverse path (DSNs). */
  mailFrom: string;
  recipients: DeliverRecipient[];
  /** The message: in memory, or the path of a file that is streamed (never read whole). */
  message: Buffer | string;
  /** Bytes sent before the message (the queue's per-recipient Received/DKIM-Signature headers). */
  messagePrefix?: Buffer;
  /** Size in bytes of prefix + message, for SIZE (rfc1870). */
  size: number;
  /** The message or an address needs SMTPUTF8 (rfc6531). */
  smtputf8: boolean;
  /** The message has 8-bit content: BODY=8BITMIME when offered (rfc6152). */
  has8bit: boolean;
  /** Fail (temporarily) instead of delivering without TLS. */
  requireTLS: boolean;
  /**
   * rfc8689 REQUIRETLS: only deliver over TLS with a verified certificate to a server that offers
   * REQUIRETLS, and ask it to do the same (MAIL FROM … REQUIRETLS). A host without it is a
   * permanent failure (5.7.30) for that host.
   */
  requireTLSExtension?: boolean;
  /** Deliver to these hosts in order (a smarthost) instead of looking up the domain's MX hosts. */
  hosts?: string[];
  /** TLS from the first byte, no STARTTLS (submissions, rfc8314:3.3). */
  implicitTLS?: boolean;
  /** Never use STARTTLS (a smarthost configured with NoSTARTTLS). */
  noSTARTTLS?: boolean;
  /** Authenticate (rfc4954) before MAIL. */
  auth?: SmtpAuth;
  /** DSN ENVID (rfc3461:4.4). */
  envid?: string;
  /** DSN RET (rfc3461:4.3). */
  ret?: 'FULL' | 'HDRS';
  ehloHostname: string;
  resolver: Resolver;
  /** Port to connect to, default 25. */
  port?: number;
  /** Per-host port (tests: each MX host its own server). Overrides `port`. */
  portFor?: (host: string) => number;
  /** Replace the TCP connect (tests, SOCKS, a local address). Must resolve with a connected socket. */
  dial?: (host: string, ip: string, port: number, timeoutMs: number) => Promise<Socket>;
  /** TCP connect timeout; default 30 s. */
  connectTimeoutMs?: number;
  /** Waiting for the greeting and each command reply, and the TLS handshake; default 5 min (rfc5321:4.5.3.2). */
  commandTimeoutMs?: number;
  /** Sending the message (per write) and waiting for the final reply; default 10 min (rfc5321:4.5.3.2.6). */
  dataTimeoutMs?: number;
  /** Node TLS options for STARTTLS; `verify` (default false: opportunistic, rfc7435) rejects bad certificates. */
  tlsOptions?: ConnectionOptions & { verify?: boolean };
  /** Per-host TLS policy hook (MTA-STS/DANE later). */
  tlsPolicy?: (host: string) => TLSPolicy | Promise<TLSPolicy>;
  disableIPv4?: boolean;
  disableIPv6?: boolean;
  /** Random source for ordering equal-preference MX hosts. */
  random?: () => number;
  log?: Logger;
  clock?: Clock;
}

/** rfc5321:4.5.3.2 suggests minutes; connecting gets less, an unreachable IP should not hold a slot long. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** rfc5321:4.5.3.2.1-4: 5 minutes for the greeting, MAIL and RCPT replies. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5 * 60_000;
/** rfc5321:4.5.3.2.6: 10 minutes for the reply to the end of data. */
export const DEFAULT_DATA_TIMEOUT_MS = 10 * 60_000;
/** QUIT is a courtesy: don't wait long for its reply. */
const QUIT_TIMEOUT_MS = 2_000;
/** Read size when streaming a message file. */
const FILE_CHUNK = 64 * 1024;

interface Failure {
  temporary: boolean;
  code?: number;
  enhanced?: string;
  message: string;
}

type Outcome =
  /** The transaction ran; results are final for this attempt. Missing recipients get `rest`. */
  | { kind: 'done'; results: Map<string, Failure | 'delivered'>; dataReply?: Reply; dsn?: boolean }
  /** Try the next IP/host. */
  | { kind: 'next'; failure: Failure }
  /** TLS handshake failed: reconnect to the same IP without STARTTLS. */
  | { kind: 'plaintext'; failure: Failure };

/** A failure from a remote reply: 4xx temporary, 5xx permanent, anything else temporary. */
function replyFailure(r: Reply, what: string): Failure {
  return { temporary: r.code < 500 || r.code >= 600, code: r.code, enhanced: r.enhanced, message: `${what}: ${r.raw}` };
}

function localFailure(temporary: boolean, detail: string, message: string): Failure {
  return { temporary, enhanced: enhancedCode(temporary ? 450 : 550, detail), message };
}

/** rfc3461:4 xtext: "!" to "~" except "+" and "=" as is, everything else as "+HH". */
export function xtext(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b >= 0x21 && b <= 0x7e && b !== 0x2b && b !== 0x3d ? String.fromCharCode(b) : `+${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** rfc6533:3 utf-8-addr-xtext: QCHARs as is, anything else as \x{HEX}. */
function utf8AddrXtext(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const q = cp >= 0x21 && cp <= 0x7e && ch !== '+' && ch !== '=' && ch !== '\\';
    out += q ? ch : `\\x{${cp.toString(16).toUpperCase()}}`;
  }
  return out;
}

/** ORCPT parameter value (rfc3461:4.2, rfc6533:3 for non-ASCII addresses). */
export function orcptParam(orcpt: string): string {
  const semi = orcpt.indexOf(';');
  if (semi > 0) {
    const type = orcpt.slice(0, semi);
    const value = orcpt.slice(semi + 1);
    return type.toLowerCase() === 'utf-8' ? `${type};${utf8AddrXtext(value)}` : `${type};${xtext(value)}`;
  }
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(orcpt) ? `rfc822;${xtext(orcpt)}` : `utf-8;${utf8AddrXtext(orcpt)}`;
}

/** EHLO keywords (uppercased) → parameters (rfc5321:4.1.1.1). */
export function parseEhlo(r: Reply): Map<string, string> {
  const ext = new Map<string, string>();
  for (const l of r.lines.slice(1)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:[ =](.*))?$/.exec(l.trim());
    if (m) ext.set(m[1]!.toUpperCase(), (m[2] ?? '').trim());
  }
  return ext;
}

function defaultDial(_host: string, ip: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: ip, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new WireError(`timeout connecting to ${ip} port ${port}`, 'timeout'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.off('error', onError);
      s.setNoDelay(true);
      resolve(s);
    });
    const onError = (err: Error) => {
      clearTimeout(t);
      reject(new WireError(`connecting to ${ip} port ${port}: ${err.message}`, 'socket', { cause: err }));
    };
    s.once('error', onError);
  });
}

function upgradeTLS(sock: Socket, host: string, opts: ConnectionOptions, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = tlsConnect({ ...opts, socket: sock, servername: isIP(host) ? undefined : host });
    const timer = setTimeout(() => {
      t.destroy();
      reject(new WireError('timeout in TLS handshake', 'timeout'));
    }, timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      t.destroy();
      reject(err);
    };
    t.once('secureConnect', () => {
      clearTimeout(timer);
      t.off('error', fail);
      t.off('close', onClose);
      resolve(t);
    });
    const onClose = () => fail(new Error('connection closed during TLS handshake'));
    t.once('error', fail);
    t.once('close', onClose);
  });
}

/** Deliver one message to the recipients at one domain. Never throws for remote or DNS problems. */
export async function deliverToDomain(o: DeliverOptions): Promise<DeliveryResult> {
  const log = o.log ?? nullLogger();
  const clock = o.clock ?? Date;
  const connectTimeout = o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const cmdTimeout = o.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const dataTimeout = o.dataTimeoutMs ?? DEFAULT_DATA_TIMEOUT_MS;
  const dial = o.dial ?? defaultDial;
  const attempts: AttemptRecord[] = [];

  const all = (f: Failure, mx: MxResult['kind'], host?: string, ip?: string): DeliveryResult => ({
    recipients: o.recipients.map((r) => ({ address: r.address, status: f.temporary ? 'temporary' : 'permanent', code: f.code, enhanced: f.enhanced, message: f.message, remoteHost: host, remoteIP: ip })),
    attempts,
    mx,
  });

  if (o.recipients.length === 0) return { recipients: [], attempts, mx: 'error' };
  const mx: MxResult = o.hosts ? { kind: 'mx', hosts: o.hosts.map((host, i) => ({ host, preference: i })) } : await resolveMx(o.domain, o.resolver, { random: o.random });
  if (mx.kind === 'nullmx') {
    // rfc7505:4.2 the domain accepts no mail: fail at once, without connecting. 556 is what a
    // server would say (rfc7505:4.2 / rfc7504); the enhanced code is X.1.10.
    return all({ temporary: false, code: 556, enhanced: enhancedCode(556, E.NullMXRecipient), message: `domain ${o.domain} does not accept mail (null MX, rfc7505)` }, mx.kind);
  }
  if (mx.kind === 'error') {
    // X.4.3 "directory server failure" for DNS trouble, X.1.2 "bad destination system" when the domain does not exist.
    return all(localFailure(mx.temporary, mx.temporary ? E.DirectoryServer : E.BadDestSystem, mx.message), mx.kind);
  }

  // Open the file once; each connection reads it from the start with positional reads.
  let file: FileHandle | undefined;
  if (typeof o.message === 'string') {
    try {
      file = await open(o.message, 'r');
    } catch (err) {
      return all(localFailure(true, E.SystemOther, `opening message file: ${(err as Error).message}`), mx.kind);
    }
  }

  try {
    const failures: { failure: Failure; host: string; ip?: string }[] = [];
    for (const { host } of mx.hosts) {
      let ips: string[];
      try {
        ips = await resolveHostIPs(host, o.resolver, { disableIPv4: o.disableIPv4, disableIPv6: o.disableIPv6 });
      } catch (err) {
        // A host without addresses is a (fixable) misconfiguration at the receiver: temporary, try the next host.
        const msg = err instanceof HostLookupError ? err.message : String(err);
        log.debug({ host, err: msg }, 'mx host address lookup failed');
        failures.push({ failure: localFailure(true, E.DirectoryServer, msg), host });
        continue;
      }
      const port = o.portFor?.(host) ?? o.port ?? 25;
      for (const ip of ips) {
        let out = await attemptConnection(host, ip, port, false);
        if (out.kind === 'plaintext') {
          // mox and ZoneMTA: a failed opportunistic TLS handshake is retried in plaintext on the same IP.
          log.info({ host, ip, err: out.failure.message }, 'TLS handshake failed, retrying in plaintext');
          out = await attemptConnection(host, ip, port, true);
        }
        if (out.kind === 'done') {
          const { results, dataReply } = out;
          return {
            recipients: o.recipients.map((r) => {
              const f = results.get(r.address)!;
              if (f === 'delivered') return { address: r.address, status: 'delivered', code: dataReply?.code, enhanced: dataReply?.enhanced, message: dataReply?.raw ?? 'delivered', remoteHost: host, remoteIP: ip, dsnPassedOn: out.dsn };
              return { address: r.address, status: f.temporary ? 'temporary' : 'permanent', code: f.code, enhanced: f.enhanced, message: f.message, remoteHost: host, remoteIP: ip };
            }),
            attempts,
            mx: mx.kind,
          };
        }
        failures.push({ failure: out.failure, host, ip });
      }
    }
    // Nothing accepted the transaction. Permanent only if every host said so (e.g. 554 greetings).
    const last = failures[failures.length - 1];
    if (!last) return all(localFailure(true, E.UnableToRoute, 'no hosts to try'), mx.kind);
    const temporary = failures.some((f) => f.failure.temporary);
    const pick = [...failures].reverse().find((f) => f.failure.temporary === temporary)!;
    return all({ ...pick.failure, temporary }, mx.kind, pick.host, pick.ip);
  } finally {
    await file?.close().catch(() => {});
  }

  /** One connection to one IP: the whole SMTP session. */
  async function attemptConnection(host: string, ip: string, port: number, plaintextOnly: boolean): Promise<Outcome> {
    const start = clock.now();
    const rec: AttemptRecord = { host, ip, port, start, durationMs: 0 };
    attempts.push(rec);
    const clog = log.child({ host, ip, port });
    let wire: Wire | undefined;
    // Recipient results once the transaction has started; from then on failures are final.
    let results: Map<string, Failure | 'delivered'> | undefined;
    const finish = (out: Outcome): Outcome => {
      if (out.kind !== 'done') rec.error = out.failure.message;
      else {
        const failed = [...out.results.values()].find((v) => v !== 'delivered') as Failure | undefined;
        if (failed && ![...out.results.values()].includes('delivered')) rec.error = failed.message;
      }
      return out;
    };
    const cmd = async (line: string, what = line.split(' ')[0]!): Promise<Reply> => {
      clog.trace({ line }, 'smtp client command');
      await wire!.write(`${line}\r\n`, cmdTimeout, what);
      const r = await wire!.reply(cmdTimeout, what);
      clog.trace({ reply: r.raw }, 'smtp client reply');
      return r;
    };
    const ehlo = async (): Promise<Map<string, string> | Failure> => {
      const r = await cmd(`EHLO ${o.ehloHostname}`, 'EHLO');
      if (r.code === 250) return parseEhlo(r);
      if (r.code >= 500 && r.code < 600) {
        // rfc5321:3.2 a server that does not support EHLO: fall back to HELO, no extensions.
        const h = await cmd(`HELO ${o.ehloHostname}`, 'HELO');
        if (h.code === 250) return new Map();
        return replyFailure(h, 'HELO');
      }
      return replyFailure(r, 'EHLO');
    };

    try {
      let sock: Socket;
      try {
        sock = await dial(host, ip, port, connectTimeout);
      } catch (err) {
        return finish({ kind: 'next', failure: localFailure(true, E.NoAnswer, `connecting to ${host} (${ip}) port ${port}: ${(err as Error).message}`) });
      }
      const policy = (await o.tlsPolicy?.(host)) ?? {};
      const requireTLS = o.requireTLS || o.requireTLSExtension === true || policy.require === true;
      const { verify: verifyOpt, ...tlsOpts } = o.tlsOptions ?? {};
      // rfc8689:4.2 REQUIRETLS needs a verified certificate.
      const verifyCert = o.requireTLSExtension === true || (policy.verify ?? verifyOpt ?? false);
      const tlsConnectOpts: ConnectionOptions = { minVersion: 'TLSv1.2', ...tlsOpts, ...policy.tls, rejectUnauthorized: verifyCert };
      if (o.implicitTLS) {
        // rfc8314:3.3 TLS first, then the SMTP greeting.
        try {
          const tsock = await upgradeTLS(sock, host, tlsConnectOpts, cmdTimeout);
          const cipher = tsock.getCipher();
          rec.tls = { version: tsock.getProtocol() ?? '', cipher: cipher?.standardName ?? cipher?.name ?? '', authorized: tsock.authorized };
          sock = tsock;
        } catch (err) {
          sock.destroy();
          return finish({ kind: 'next', failure: localFailure(true, E.EncryptionNeeded, `TLS with ${host} (${ip}): ${(err as Error).message}`) });
        }
      }
      wire = new Wire(sock);
      // rfc5321:4.3.1 / 3.1: 220 greeting; 554 means no service here; anything else try elsewhere.
      const greeting = await wire.reply(cmdTimeout, 'greeting');
      if (greeting.code !== 220) return finish({ kind: 'next', failure: replyFailure(greeting, 'greeting') });

      let ext = await ehlo();
      if (!(ext instanceof Map)) return finish({ kind: 'next', failure: ext });

      if (o.implicitTLS) {
        // Already TLS.
      } else if (!plaintextOnly && !o.noSTARTTLS && ext.has('STARTTLS')) {
        // rfc3207:4 opportunistic STARTTLS.
        const r = await cmd('STARTTLS');
        if (r.code === 220) {
          if (wire.release()) clog.info('data after 220 to STARTTLS discarded (rfc3207:4.2)');
          let tsock: TLSSocket;
          try {
            tsock = await upgradeTLS(sock, host, tlsConnectOpts, cmdTimeout);
          } catch (err) {
            const msg = `TLS handshake with ${host} (${ip}): ${(err as Error).message}`;
            // X.7.10 "encryption needed" (rfc5248 registry).
            if (requireTLS) return finish({ kind: 'next', failure: localFailure(true, '7.10', `${msg}; TLS is required`) });
            return finish({ kind: 'plaintext', failure: localFailure(true, E.BadConnection, msg) });
          }
          wire.replace(tsock);
          const cipher = tsock.getCipher();
          rec.tls = { version: tsock.getProtocol() ?? '', cipher: cipher?.standardName ?? cipher?.name ?? '', authorized: tsock.authorized };
          // rfc3207:4.2 forget what we knew and EHLO again.
          ext = await ehlo();
          if (!(ext instanceof Map)) return finish({ kind: 'next', failure: ext });
        } else if (requireTLS) {
          return finish({ kind: 'next', failure: localFailure(true, '7.10', `STARTTLS refused by ${host} and TLS is required: ${r.raw}`) });
        }
        // rfc3207:4 a refused STARTTLS (e.g. 454): the client decides; opportunistically we go on in plaintext.
      } else if (requireTLS) {
        await quit();
        return finish({ kind: 'next', failure: localFailure(true, '7.10', `${host} does not offer STARTTLS and TLS is required`) });
      }

      if (o.requireTLSExtension && !ext.has('REQUIRETLS')) {
        // rfc8689:4.1 the next hop must support REQUIRETLS; permanent for this host (mox: when no MX offers it, the message fails).
        await quit();
        return finish({ kind: 'next', failure: localFailure(false, E.RequireTLS, `${host} does not support REQUIRETLS`) });
      }
      if (o.auth) {
        const f = await authenticate(ext, wire.socket);
        if (f) {
          await quit();
          return finish({ kind: 'next', failure: f });
        }
      }

      // Checks before MAIL that make the whole transaction impossible at this server.
      if (o.smtputf8 && !ext.has('SMTPUTF8')) {
        // rfc6531:3.4 the message must not be sent to a server without SMTPUTF8 (no downgrade).
        await quit();
        return finish(doneAll(localFailure(false, E.NonASCIIAddrNotPermitted, `message needs SMTPUTF8, ${host} does not support it`)));
      }
      const maxSize = Number(ext.get('SIZE') || 0);
      if (ext.has('SIZE') && maxSize > 0 && o.size > maxSize) {
        // rfc1870:6 the client should not send a message larger than the advertised maximum.
        await quit();
        return finish(doneAll(localFailure(false, E.MsgTooBig, `message of ${o.size} bytes exceeds the maximum of ${maxSize} of ${host}`)));
      }
      if (o.has8bit && !ext.has('8BITMIME')) clog.info('message has 8-bit data but 8BITMIME is not offered; sending anyway (no downgrade)');

      const dsn = ext.has('DSN');
      const mailParams: string[] = [];
      if (ext.has('SIZE')) mailParams.push(`SIZE=${o.size}`); // rfc1870:6
      if (o.has8bit && ext.has('8BITMIME')) mailParams.push('BODY=8BITMIME'); // rfc6152:3
      if (o.smtputf8) mailParams.push('SMTPUTF8'); // rfc6531:3.4
      if (dsn && o.ret) mailParams.push(`RET=${o.ret}`); // rfc3461:4.3
      if (dsn && o.envid) mailParams.push(`ENVID=${xtext(o.envid)}`); // rfc3461:4.4
      if (o.requireTLSExtension) mailParams.push('REQUIRETLS'); // rfc8689:4.1
      const mailLine = `MAIL FROM:<${o.mailFrom}>${mailParams.map((p) => ` ${p}`).join('')}`;
      const rcptLines = o.recipients.map((r) => {
        const p: string[] = [];
        if (dsn && r.notify) p.push(`NOTIFY=${(Array.isArray(r.notify) ? r.notify : [r.notify]).map((n) => n.toUpperCase()).join(',')}`); // rfc3461:4.1
        if (dsn && r.orcpt) p.push(`ORCPT=${orcptParam(r.orcpt)}`); // rfc3461:4.2
        return `RCPT TO:<${r.address}>${p.map((x) => ` ${x}`).join('')}`;
      });

      const pipelining = ext.has('PIPELINING');
      let mailReply: Reply;
      const rcptReplies: Reply[] = [];
      let dataReply: Reply | undefined;
      if (pipelining) {
        // rfc2920:3.1 MAIL, RCPTs and DATA in one write; DATA is the last command of the group.
        const lines = [mailLine, ...rcptLines, 'DATA'];
        for (const l of lines) clog.trace({ line: l }, 'smtp client command (pipelined)');
        await wire.write(lines.map((l) => `${l}\r\n`).join(''), cmdTimeout, 'MAIL/RCPT/DATA');
        mailReply = await wire.reply(cmdTimeout, 'MAIL');
        if (mailReply.code < 200 || mailReply.code >= 300) return finish(await mailFailed(mailReply));
        results = new Map();
        for (const [i, r] of o.recipients.entries()) {
          const rr = await wire.reply(cmdTimeout, 'RCPT');
          rcptReplies.push(rr);
          results.set(r.address, rcptResult(rr, i));
        }
        dataReply = await wire.reply(cmdTimeout, 'DATA');
      } else {
        mailReply = await cmd(mailLine, 'MAIL');
        if (mailReply.code < 200 || mailReply.code >= 300) return finish(await mailFailed(mailReply));
        results = new Map();
        for (const [i, r] of o.recipients.entries()) {
          const rr = await cmd(rcptLines[i]!, 'RCPT');
          rcptReplies.push(rr);
          results.set(r.address, rcptResult(rr, i));
        }
      }
      const accepted = o.recipients.filter((r) => results!.get(r.address) === 'delivered').map((r) => r.address);
      if (accepted.length === 0) {
        if (dataReply?.code === 354) {
          // rfc2920:3.1 DATA was accepted although no recipient was: end it with an empty message.
          await wire.write('.\r\n', dataTimeout, 'empty data');
          await wire.reply(dataTimeout, 'empty data').catch(() => undefined);
        }
        await quit();
        return finish({ kind: 'done', results });
      }
      if (!pipelining) dataReply = await cmd('DATA');
      if (dataReply!.code !== 354) {
        const f = replyFailure(dataReply!, 'DATA');
        for (const a of accepted) results.set(a, f);
        await quit();
        return finish({ kind: 'done', results });
      }
      // From here a failure leaves the accepted recipients temporary (see catch below).
      await sendMessage(wire);
      const final = await wire.reply(dataTimeout, 'end of data');
      clog.debug({ reply: final.raw }, 'reply to end of data');
      if (final.code < 200 || final.code >= 300) {
        const f = replyFailure(final, 'end of data');
        for (const a of accepted) results.set(a, f);
      }
      await quit();
      return finish({ kind: 'done', results, dataReply: final, dsn });
    } catch (err) {
      const msg = `${host} (${ip}): ${err instanceof Error ? err.message : String(err)}`;
      const f = localFailure(true, err instanceof WireError && err.kind === 'timeout' ? E.NoAnswer : E.BadConnection, msg);
      if (!(err instanceof WireError)) clog.warn({ err }, 'unexpected error during delivery');
      if (!results) return finish({ kind: 'next', failure: f });
      // The transaction had started: recipients not rejected already are temporary failures now.
      for (const r of o.recipients) {
        const cur = results.get(r.address);
        if (cur === undefined || cur === 'delivered') results.set(r.address, f);
      }
      return finish({ kind: 'done', results });
    } finally {
      rec.durationMs = clock.now() - start;
      wire?.destroy();
    }

    /** rfc4954 AUTH with the first of our mechanisms the server offers; undefined on success. */
    async function authenticate(ext: Map<string, string>, sock: Socket): Promise<Failure | undefined> {
      const a = o.auth!;
      const offered = new Set((ext.get('AUTH') ?? '').toUpperCase().split(/\s+/).filter(Boolean));
      const binding = sock instanceof TLSSocketClass ? tlsExporterBinding(sock) : undefined;
      const mech = (a.mechanisms ?? DEFAULT_AUTH_MECHANISMS).map((m) => m.toUpperCase()).find((m) => offered.has(m) && (!m.endsWith('-PLUS') || binding));
      if (!mech) return localFailure(true, E.AuthMechanismWeak, `${host} offers none of the configured authentication mechanisms (offered: ${[...offered].join(' ') || 'none'})`);
      const client = saslClient(mech, { username: a.username, password: a.password, channelBinding: mech.endsWith('-PLUS') ? binding : undefined });
      const ir = await client.initialResponse();
      // rfc4954:4 "=" is an empty initial response.
      let r = await cmd(`AUTH ${mech}${ir ? ` ${ir.length ? ir.toString('base64') : '='}` : ''}`, 'AUTH');
      for (let steps = 0; r.code === 334 && steps < 10; steps++) {
        let resp: Buffer;
        try {
          resp = await client.respond(Buffer.from(r.lines[0] ?? '', 'base64'));
        } catch (err) {
          await cmd('*', 'AUTH cancel').catch(() => undefined);
          return localFailure(true, E.AuthCredentialsInvalid, `authentication with ${host}: ${(err as Error).message}`);
        }
        r = await cmd(resp.toString('base64'), 'AUTH');
      }
      if (r.code === 235) return undefined;
      // A rejected login is a configuration problem on our side that an admin can fix: temporary.
      return { ...replyFailure(r, 'AUTH'), temporary: true };
    }

    function doneAll(f: Failure): Outcome {
      return { kind: 'done', results: new Map(o.recipients.map((r) => [r.address, f])) };
    }

    function rcptResult(r: Reply, i: number): Failure | 'delivered' {
      // rfc5321:4.2.5 / 3.3: 250 and 251 accept; 4xx temporary; 5xx permanent for this recipient.
      if (r.code === 250 || r.code === 251) return 'delivered';
      const f = replyFailure(r, `RCPT TO:<${o.recipients[i]!.address}>`);
      // rfc5321:4.5.3.1.10 a 552 to RCPT (too many recipients, in old servers) is to be treated as temporary.
      if (r.code === 552) f.temporary = true;
      return f;
    }

    async function mailFailed(r: Reply): Promise<Outcome> {
      await quit();
      const f = replyFailure(r, 'MAIL FROM');
      // A 5xx to MAIL is about the sender/message: permanent for all. 4xx: another host may accept.
      if (!f.temporary) return doneAll(f);
      return { kind: 'next', failure: f };
    }

    async function quit(): Promise<void> {
      // rfc5321:4.1.1.10; best effort.
      try {
        wire!.socket.write('QUIT\r\n');
        await wire!.reply(QUIT_TIMEOUT_MS, 'QUIT');
      } catch {
        // ignore
      }
    }

    async function sendMessage(w: Wire): Promise<void> {
      // rfc5321:4.5.2 transparency (dot-stuffing) and <CRLF>.<CRLF> at the end.
      if (!file) {
        const msg = o.messagePrefix ? Buffer.concat([o.messagePrefix, o.message as Buffer]) : (o.message as Buffer);
        await w.write(dotStuff(msg), dataTimeout, 'message');
        return;
      }
      const st = new DotStuffer();
      if (o.messagePrefix) await w.write(Buffer.concat(st.push(o.messagePrefix)), dataTimeout, 'message');
      const stream = file.createReadStream({ start: 0, autoClose: false, highWaterMark: FILE_CHUNK });
      try {
        for await (const chunk of stream) {
          const parts = st.push(chunk as Buffer);
          await w.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts), dataTimeout, 'message');
        }
      } finally {
        stream.destroy();
      }
      await w.write(st.end(), dataTimeout, 'end of data');
    }
  }
}
