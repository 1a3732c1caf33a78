/**
 * One SMTP connection: the protocol state machine of rfc5321 with ESMTP extensions PIPELINING
 * (rfc2920), SIZE (rfc1870), STARTTLS (rfc3207), ENHANCEDSTATUSCODES (rfc2034), 8BITMIME (rfc6152),
 * SMTPUTF8 (rfc6531), DSN parameters (rfc3461). What to accept is decided by a `SessionPolicy`
 * (delivery on port 25, submission on 587/465), so this file holds no mail-routing decisions.
 *
 * Commands are handled one at a time in arrival order; replies to pipelined commands are
 * batched into one write. Every handler error is caught once per command: SmtpError becomes its
 * reply, anything else a logged `451 4.3.0`.
 */
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log/logger.js';
import { C, E, SmtpError } from '../codes.js';
import { splitCommand, parsePathArgs, parseEnvid, parseOrcpt, type SmtpAddress } from '../parse.js';
import { DataReader } from '../data.js';
import { MessageSink, type ReceivedMessage } from './sink.js';
import { tlsExporterBinding, type ChannelBinding } from '../../auth/sasl.js';

/** rfc5321:4.5.3.1.4 says 512 octets; mox allows 2048 to leave room for long parameters. Longer: 500 and close. */
export const MAX_COMMAND_LINE = 2048;
/** rfc5321:4.5.3.1.8 requires at least 100 recipients; we allow 1000 (mox's RCPTMAX). */
export const MAX_RECIPIENTS = 1000;
/** After this many bad commands in one connection the client is not a real mail client: 421 and close. */
export const MAX_ERRORS = 10;
/** rfc5321:4.5.3.2.7 server timeout waiting for the next command: at least 5 minutes. */
export const COMMAND_TIMEOUT_MS = 5 * 60_000;
/** Buffered unprocessed input (pipelined commands) beyond which we stop reading from the socket. */
const MAX_PENDING_INPUT = 64 * 1024;

export type Service = 'smtp' | 'submission' | 'submissions';

export interface Recipient {
  address: SmtpAddress;
  /** rfc3461:4.1 NOTIFY values, upper-case; undefined when absent. */
  notify?: string[];
  /** rfc3461:4.2 ORCPT as "type;address" (xtext decoded). */
  orcpt?: string;
  /** Set by the policy on acceptance (e.g. destination account and mailbox). */
  info?: unknown;
}

export interface Transaction {
  /** Undefined for the null reverse path. */
  mailFrom?: SmtpAddress;
  smtputf8: boolean;
  body: '7BIT' | '8BITMIME' | undefined;
  declaredSize?: number;
  /** rfc3461:4.3 RET and rfc3461:4.4 ENVID. */
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  requireTLS: boolean;
  /** rfc4865 FUTURERELEASE (HOLDFOR/HOLDUNTIL), set by a policy that supports it. */
  futureRelease?: { holdForSeconds: number } | { holdUntil: Date };
  recipients: Recipient[];
}

export interface SessionInfo {
  readonly cid: string;
  readonly service: Service;
  readonly log: Logger;
  readonly remoteIP: string;
  readonly remotePort: number;
  readonly localIP: string;
  readonly localPort: number;
  /** Our host name (greeting, Received). */
  readonly hostname: string;
  /** The name given in HELO/EHLO. */
  readonly helo: string | undefined;
  readonly esmtp: boolean;
  /** TLS version and cipher once TLS is active. */
  readonly tls: { version: string; cipher: string } | undefined;
  /** The authenticated account (submission). */
  readonly account: string | undefined;
  /** The login name the account authenticated with (submission; decides fromid). */
  readonly loginAddress: string | undefined;
  /** rfc9266 tls-exporter channel binding of this connection (TLS 1.3 only), for SCRAM -PLUS. */
  channelBinding(): ChannelBinding | undefined;
  readonly transaction: Transaction | undefined;
}

/**
 * SMTP AUTH (rfc4954) for a policy that offers it. `authenticate` runs one exchange: `challenge`
 * sends a 334 with the data and resolves with the client's next line (null when the connection
 * closed). It resolves with the account or throws SmtpError (the session replies and, for 421,
 * closes).
 */
export interface SessionAuth {
  authenticate(
    s: SessionInfo,
    mechanism: string,
    initialResponse: string | null,
    challenge: (data: Buffer) => Promise<string | null>,
  ): Promise<{ account: string; loginAddress: string }>;
}

/** What a listener decides; the session enforces the protocol. Handlers throw SmtpError to refuse. */
export interface SessionPolicy {
  readonly service: Service;
  /** Largest message accepted (SIZE). */
  readonly maxMessageSize: number;
  /** Refuse MAIL before STARTTLS (rfc3207:4). */
  readonly requireTLS: boolean;
  /** Extra EHLO keywords after the standard ones (e.g. AUTH for submission). */
  extensions?(s: SessionInfo): string[];
  /** AUTH support (submission); without it AUTH is refused. */
  readonly auth?: SessionAuth;
  /**
   * A MAIL FROM parameter the session does not know (e.g. HOLDFOR, REQUIRETLS on submission): the
   * policy stores it in tx and returns true, or returns false (555), or throws SmtpError.
   */
  mailParam?(s: SessionInfo, tx: Transaction, key: string, value: string): boolean;
  mailFrom(s: SessionInfo, tx: Transaction): Promise<void> | void;
  /** Accept or refuse one recipient; the result is stored as Recipient.info. */
  rcptTo(s: SessionInfo, tx: Transaction, rcpt: Recipient): Promise<unknown> | unknown;
  /** The complete message; returns the text of the 250 reply (without code). */
  data(s: SessionInfo, tx: Transaction, msg: ReceivedMessage): Promise<string>;
  /** Called when the connection closes (cleanup of per-session state). */
  close?(s: SessionInfo): void;
}

export interface SessionOptions {
  socket: Socket;
  cid: string;
  log: Logger;
  hostname: string;
  policy: SessionPolicy;
  /** TLS for STARTTLS; undefined when the listener has no certificate. */
  tlsContext?: SecureContext;
  /** The connection is TLS from the start (submissions). */
  implicitTLS?: boolean;
  /** Where large messages are spilled during DATA. */
  tmpDir: string;
  commandTimeoutMs?: number;
  onClose?: () => void;
}

type Mode = 'command' | 'data' | 'closed';

export class SmtpSession implements SessionInfo {
  readonly cid: string;
  readonly service: Service;
  readonly log: Logger;
  readonly remoteIP: string;
  readonly remotePort: number;
  readonly localIP: string;
  readonly localPort: number;
  readonly hostname: string;
  helo: string | undefined;
  esmtp = false;
  tls: { version: string; cipher: string } | undefined;
  account: string | undefined;
  loginAddress: string | undefined;
  transaction: Transaction | undefined;

  private sock: Socket;
  /** Set while AUTH waits for the client's next SASL line. */
  private lineWaiter: ((line: string | null) => void) | undefined;
  private readonly policy: SessionPolicy;
  private readonly opts: SessionOptions;
  private mode: Mode = 'command';
  private input: Buffer[] = [];
  private inputLen = 0;
  private busy = false;
  private errors = 0;
  private data: { reader: DataReader; sink: MessageSink } | undefined;
  /** Replies held by holdReplies until its setImmediate (undefined: not holding). */
  private held: string | undefined;

  constructor(opts: SessionOptions) {
    this.opts = opts;
    this.sock = opts.socket;
    this.cid = opts.cid;
    this.policy = opts.policy;
    this.service = opts.policy.service;
    this.hostname = opts.hostname;
    this.remoteIP = normalizeIP(opts.socket.remoteAddress ?? '');
    this.remotePort = opts.socket.remotePort ?? 0;
    this.localIP = normalizeIP(opts.socket.localAddress ?? '');
    this.localPort = opts.socket.localPort ?? 0;
    this.log = opts.log;
    if (opts.implicitTLS && opts.socket instanceof TLSSocket) this.tls = tlsInfo(opts.socket);
    this.attach(this.sock);
  }

  /** Send the greeting (or a refusal) and start reading. */
  start(refusal?: SmtpError): void {
    if (refusal) {
      this.reply(refusal.code, refusal.enhanced, refusal.message);
      this.close();
      return;
    }
    // rfc5321:4.3.1 greeting; the "ESMTP" keyword tells clients EHLO is supported.
    this.reply(C.ServiceReady, undefined, `${this.hostname} ESMTP moxts`);
  }

  private attach(sock: Socket): void {
    // Replies are batched per burst of pipelined commands (holdReplies); with Nagle on, a reply
    // written after an async step would wait for the client's delayed ACK (up to 40 ms).
    sock.setNoDelay(true);
    sock.setTimeout(this.opts.commandTimeoutMs ?? COMMAND_TIMEOUT_MS);
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('timeout', () => {
      this.log.debug('timeout');
      this.reply(C.ServiceNotAvailable, '4.4.2', 'timeout waiting for client');
      this.close();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') this.log.debug({ err: err.message }, 'connection error');
    });
    sock.on('close', () => this.onClosed());
  }

  private onClosed(): void {
    if (this.mode === 'closed') return;
    this.mode = 'closed';
    // A client that vanishes mid-DATA leaves nothing behind: the sink removes its temp file.
    this.data?.sink.discard();
    this.data = undefined;
    const w = this.lineWaiter;
    this.lineWaiter = undefined;
    w?.(null);
    this.policy.close?.(this);
    this.opts.onClose?.();
    this.log.debug('closed');
  }

  private isClosed(): boolean {
    return this.mode === 'closed';
  }

  private close(): void {
    if (this.mode === 'closed') return;
    this.flushReplies();
    this.sock.end();
    // Give the reply a moment to flush, but never keep a misbehaving peer around.
    setTimeout(() => this.sock.destroy(), 2000).unref();
    this.onClosed();
  }

  private reply(code: number, enhanced: string | undefined, text: string): void {
    if (this.mode === 'closed') return;
    const lines = text.split('\n');
    let out = '';
    lines.forEach((l, i) => {
      const sep = i === lines.length - 1 ? ' ' : '-';
      out += `${code}${sep}${enhanced ? `${enhanced} ` : ''}${l}\r\n`;
    });
    if (this.log.isLevelEnabled('trace')) this.log.trace({ reply: out.trimEnd() }, 'S');
    if (this.held !== undefined) this.held += out;
    else this.sock.write(out);
  }

  private replyLines(code: number, lines: string[]): void {
    this.reply(code, undefined, lines.join('\n'));
  }

  private onData(d: Buffer): void {
    if (this.mode === 'closed') return;
    this.input.push(d);
    this.inputLen += d.length;
    if (this.lineWaiter) return this.deliverLine();
    if (this.inputLen > MAX_PENDING_INPUT && this.mode === 'command') this.sock.pause();
    this.pump();
  }

  channelBinding(): ChannelBinding | undefined {
    return this.sock instanceof TLSSocket ? tlsExporterBinding(this.sock) : undefined;
  }

  /** The next line from the client while a command is in progress (SASL responses); null when closed. */
  private readLine(): Promise<string | null> {
    if (this.mode === 'closed') return Promise.resolve(null);
    return new Promise((resolve) => {
      this.lineWaiter = resolve;
      this.deliverLine();
    });
  }

  private deliverLine(): void {
    const w = this.lineWaiter;
    if (!w || this.inputLen === 0) return;
    const buf = this.takeInput();
    const nl = buf.indexOf(0x0a);
    if (nl < 0 && buf.length <= MAX_COMMAND_LINE) {
      this.unshiftInput(buf);
      return;
    }
    this.lineWaiter = undefined;
    if (nl < 0 || nl > MAX_COMMAND_LINE + 1) {
      this.reply(C.SyntaxError, '5.5.2', 'line too long');
      this.close();
      w(null);
      return;
    }
    this.unshiftInput(buf.subarray(nl + 1));
    w(buf.subarray(0, nl > 0 && buf[nl - 1] === 0x0d ? nl - 1 : nl).toString('utf8'));
  }

  private takeInput(): Buffer {
    const b = this.input.length === 1 ? this.input[0]! : Buffer.concat(this.input);
    this.input = [];
    this.inputLen = 0;
    return b;
  }

  private unshiftInput(b: Buffer): void {
    if (b.length === 0) return;
    this.input.unshift(b);
    this.inputLen += b.length;
  }

  /**
   * Hold replies until the current loop iteration's work is done: pipelined commands whose
   * handlers finish in microtasks (MAIL, RCPT, DATA's 354) then go out in one write of one
   * string instead of one per command (cheaper than cork/uncork, whose writev path costs more
   * per call). setImmediate runs after the promise jobs of this iteration, so a reply is never
   * held longer than that, even when the next command waits for I/O. close() and STARTTLS flush
   * first, so held replies always go out on the socket they were meant for.
   */
  private holdReplies(): void {
    if (this.held !== undefined) return;
    this.held = '';
    setImmediate(() => this.flushReplies());
  }

  private flushReplies(): void {
    const out = this.held;
    this.held = undefined;
    if (out) this.sock.write(out);
  }

  /** Process buffered input until it runs out or a command is in progress. */
  private pump(): void {
    if (this.busy || this.mode === 'closed') return;
    this.holdReplies();
    while (!this.busy && this.inputLen > 0 && !this.isClosed()) {
      if (this.mode === 'data') {
        this.feedData(this.takeInput());
        continue;
      }
      const buf = this.takeInput();
      const nl = buf.indexOf(0x0a);
      if (nl < 0) {
        if (buf.length > MAX_COMMAND_LINE) {
          this.reply(C.SyntaxError, '5.5.2', 'line too long');
          this.close();
          return;
        }
        this.unshiftInput(buf);
        break;
      }
      this.unshiftInput(buf.subarray(nl + 1));
      // Command lines end in CRLF; we also accept a bare LF here (commands are not message data).
      let line = buf.subarray(0, nl > 0 && buf[nl - 1] === 0x0d ? nl - 1 : nl);
      if (line.length > MAX_COMMAND_LINE) {
        this.reply(C.SyntaxError, '5.5.2', 'line too long');
        this.close();
        return;
      }
      this.runCommand(line.toString('utf8'));
    }
    if (!this.busy && this.mode === 'command' && this.inputLen <= MAX_PENDING_INPUT) this.sock.resume();
  }

  private runCommand(line: string): void {
    const { verb, args } = splitCommand(line);
    if (this.log.isLevelEnabled('trace')) this.log.trace({ cmd: verb === 'AUTH' ? 'AUTH ...' : line }, 'C');
    let result: Promise<void> | void;
    try {
      result = this.dispatch(verb, args);
    } catch (e) {
      this.commandError(e);
      return;
    }
    if (result instanceof Promise) {
      this.busy = true;
      result
        .catch((e: unknown) => this.commandError(e))
        .finally(() => {
          this.busy = false;
          this.pump();
        });
    }
  }

  private commandError(e: unknown): void {
    if (e instanceof SmtpError) {
      this.reply(e.code, e.enhanced, e.message);
      if (e.opts.userError) this.countError();
      if (e.opts.closeConnection) this.close();
      return;
    }
    this.log.error({ err: e }, 'smtp command failed');
    this.reply(C.LocalError, '4.3.0', 'internal error, try again later');
  }

  private countError(): void {
    this.errors++;
    if (this.errors >= MAX_ERRORS) {
      this.reply(C.ServiceNotAvailable, '4.7.0', 'too many errors, closing connection');
      this.close();
    }
  }

  private bad(code: number, detail: string, msg: string): SmtpError {
    return new SmtpError(code, detail, msg, { userError: true });
  }

  private dispatch(verb: string, args: string): Promise<void> | void {
    switch (verb) {
      case 'HELO':
        return this.cmdHelo(args, false);
      case 'EHLO':
        return this.cmdHelo(args, true);
      case 'STARTTLS':
        return this.cmdStarttls(args);
      case 'MAIL':
        return this.cmdMail(args);
      case 'RCPT':
        return this.cmdRcpt(args);
      case 'DATA':
        return this.cmdData(args);
      case 'RSET':
        if (args) throw this.bad(C.ParamSyntaxError, E.InvalidArguments, 'no parameters allowed');
        this.transaction = undefined; // rfc5321:4.1.1.5
        return this.reply(C.Completed, '2.0.0', 'reset');
      case 'NOOP':
        return this.reply(C.Completed, '2.0.0', 'ok'); // rfc5321:4.1.1.9 parameters are ignored
      case 'QUIT':
        this.reply(C.ServiceClosing, '2.0.0', `${this.hostname} closing connection`);
        this.close();
        return;
      case 'VRFY':
        // rfc5321:3.5.3 252 "cannot verify, but will accept": we don't disclose who exists.
        return this.reply(C.CannotVerify, '2.5.0', 'not verifying addresses; send a message to find out');
      case 'EXPN':
        throw this.bad(C.NotImplemented, E.InvalidCommand, 'EXPN not available');
      case 'HELP':
        return this.reply(214, '2.0.0', 'see https://www.rfc-editor.org/rfc/rfc5321');
      case 'AUTH':
        return this.cmdAuth(args);
      case 'BDAT':
        throw this.bad(C.NotImplemented, E.InvalidCommand, 'CHUNKING not supported');
      case '':
        throw this.bad(C.SyntaxError, E.SyntaxError, 'empty or malformed command');
      default:
        throw this.bad(C.SyntaxError, E.InvalidCommand, 'unknown command');
    }
  }

  private cmdHelo(args: string, ehlo: boolean): void {
    const name = args.trim();
    // rfc5321:4.1.1.1 a domain or address literal is required.
    if (!name || /\s/.test(name)) throw this.bad(C.ParamSyntaxError, E.InvalidArguments, `${ehlo ? 'EHLO' : 'HELO'} requires your host name`);
    this.helo = name;
    this.esmtp = ehlo;
    this.transaction = undefined; // rfc5321:4.1.4 EHLO resets any transaction
    if (!ehlo) return this.reply(C.Completed, undefined, this.hostname);
    const lines = [
      this.hostname,
      'PIPELINING',
      `SIZE ${this.policy.maxMessageSize}`,
      ...(!this.tls && this.opts.tlsContext ? ['STARTTLS'] : []),
      ...(this.policy.extensions?.(this) ?? []),
      'ENHANCEDSTATUSCODES',
      '8BITMIME',
      'DSN',
      `LIMITS RCPTMAX=${MAX_RECIPIENTS}`,
      'SMTPUTF8',
    ];
    this.replyLines(C.Completed, lines);
  }

  private cmdStarttls(args: string): Promise<void> | void {
    if (args) throw this.bad(C.ParamSyntaxError, E.InvalidArguments, 'no parameters allowed');
    if (this.tls) throw this.bad(C.BadSequence, E.InvalidCommand, 'already using TLS');
    if (!this.opts.tlsContext) throw this.bad(C.NotImplemented, E.InvalidCommand, 'STARTTLS not available');
    // rfc3207:4.2 / CVE-2011-0411: anything the client pipelined after STARTTLS was sent in
    // plaintext and must not be executed after the handshake.
    if (this.inputLen > 0) this.log.info({ bytes: this.inputLen }, 'discarding plaintext pipelined after STARTTLS');
    this.input = [];
    this.inputLen = 0;
    this.reply(C.ServiceReady, '2.0.0', 'go ahead with TLS');
    const raw = this.sock;
    raw.removeAllListeners('data');
    raw.removeAllListeners('timeout');
    raw.removeAllListeners('close');
    this.flushReplies(); // the 220 goes out in plaintext, before the handshake
    return new Promise<void>((resolve) => {
      const tls = new TLSSocket(raw, { isServer: true, secureContext: this.opts.tlsContext });
      const onFail = (err: Error) => {
        this.log.debug({ err: err.message }, 'tls handshake failed');
        this.mode = 'closed';
        tls.destroy();
        this.onClosedAfterFailedTLS();
        resolve();
      };
      tls.once('error', onFail);
      tls.once('secure', () => {
        tls.off('error', onFail);
        this.sock = tls;
        this.tls = tlsInfo(tls);
        // rfc3207:4.2 the client must start over with EHLO; forget what it told us.
        this.helo = undefined;
        this.account = undefined;
        this.loginAddress = undefined;
        this.esmtp = false;
        this.transaction = undefined;
        this.attach(tls);
        this.log.debug(this.tls, 'tls established');
        resolve();
      });
    });
  }

  private onClosedAfterFailedTLS(): void {
    this.data?.sink.discard();
    this.policy.close?.(this);
    this.opts.onClose?.();
  }

  private requireHelo(): void {
    if (!this.helo) throw this.bad(C.BadSequence, E.InvalidCommand, 'say HELO or EHLO first');
  }

  private async cmdMail(args: string): Promise<void> {
    this.requireHelo();
    if (this.transaction) throw this.bad(C.BadSequence, E.InvalidCommand, 'transaction already in progress; RSET first');
    if (this.policy.requireTLS && !this.tls) throw this.bad(C.AuthRequired, '7.0', 'STARTTLS required first');
    const p = parsePathArgs(args, 'FROM');
    const tx: Transaction = { mailFrom: p.address, smtputf8: false, body: undefined, requireTLS: false, recipients: [] };
    for (const [key, value] of p.params) {
      switch (key) {
        case 'SIZE': {
          // rfc1870:6 a declared size over our limit is refused at MAIL.
          if (!/^\d{1,20}$/.test(value)) throw this.bad(C.ParamSyntaxError, E.InvalidArguments, 'invalid SIZE');
          const n = Number(value);
          if (n > this.policy.maxMessageSize) throw this.bad(C.ExceededStorage, E.MsgTooBig, `message too big, maximum is ${this.policy.maxMessageSize} bytes`);
          tx.declaredSize = n;
          break;
        }
        case 'BODY': {
          const v = value.toUpperCase();
          if (v !== '7BIT' && v !== '8BITMIME') throw this.bad(C.ParamsNotAccommodated, E.InvalidArguments, `unsupported BODY=${value}`);
          tx.body = v;
          break;
        }
        case 'SMTPUTF8':
          if (value) throw this.bad(C.ParamSyntaxError, E.InvalidArguments, 'SMTPUTF8 takes no value');
          if (!this.esmtp) throw this.bad(C.ParamsNotAccommodated, E.InvalidArguments, 'SMTPUTF8 requires EHLO');
          tx.smtputf8 = true; // rfc6531:3.4
          break;
        case 'AUTH':
          break; // rfc4954:5 accepted and ignored: we don't relay trust from other servers
        case 'RET': {
          const v = value.toUpperCase();
          if (v !== 'FULL' && v !== 'HDRS') throw this.bad(C.ParamSyntaxError, E.InvalidArguments, 'RET must be FULL or HDRS');
          tx.ret = v;
          break;
        }
        case 'ENVID':
          tx.envid = parseEnvid(value); // rfc3461:4.4
          break;
        default:
          if (this.policy.mailParam?.(this, tx, key, value)) break;
          throw this.bad(C.ParamsNotAccommodated, E.InvalidArguments, `unrecognized parameter ${key}`);
      }
    }
    await this.policy.mailFrom(this, tx);
    this.transaction = tx;
    this.reply(C.Completed, '2.1.0', 'sender ok');
  }

  /** rfc4954:4 AUTH mechanism [initial-response]; the exchange itself is the policy's. */
  private async cmdAuth(args: string): Promise<void> {
    const auth = this.policy.auth;
    if (!auth) throw this.bad(C.BadSequence, E.InvalidCommand, 'authentication not available on this service');
    if (!this.helo || !this.esmtp) throw this.bad(C.BadSequence, E.InvalidCommand, 'say EHLO first');
    // rfc4954:4 no AUTH after a successful one, nor during a mail transaction.
    if (this.account) throw this.bad(C.BadSequence, E.InvalidCommand, 'already authenticated');
    if (this.transaction) throw this.bad(C.BadSequence, E.InvalidCommand, 'not during a mail transaction');
    const parts = args.trim().split(/ +/);
    if (!parts[0] || parts.length > 2) throw this.bad(C.ParamSyntaxError, E.InvalidArguments, 'usage: AUTH mechanism [initial-response]');
    const r = await auth.authenticate(this, parts[0], parts[1] ?? null, async (data) => {
      this.reply(C.AuthContinue, undefined, data.toString('base64'));
      return this.readLine();
    });
    this.account = r.account;
    this.loginAddress = r.loginAddress;
    this.reply(C.AuthSuccess, '2.7.0', 'authentication successful');
  }

  private async cmdRcpt(args: string): Promise<void> {
    const tx = this.transaction;
    if (!tx) throw this.bad(C.BadSequence, E.InvalidCommand, 'MAIL FROM first');
    if (tx.recipients.length >= MAX_RECIPIENTS) {
      // rfc5321:4.5.3.1.10 too many recipients is a temporary 452.
      throw new SmtpError(C.InsufficientStorage, E.TooManyRecipients, `at most ${MAX_RECIPIENTS} recipients per message`);
    }
    const p = parsePathArgs(args, 'TO', tx.smtputf8);
    const rcpt: Recipient = { address: p.address! };
    for (const [key, value] of p.params) {
      switch (key) {
        case 'NOTIFY': {
          // rfc3461:4.1 NEVER, or a list of SUCCESS, FAILURE, DELAY.
          const vals = value.toUpperCase().split(',');
          const ok = vals.every((v) => ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'].includes(v)) && (!vals.includes('NEVER') || vals.length === 1);
          if (!ok || new Set(vals).size !== vals.length) throw this.bad(C.ParamSyntaxError, E.InvalidArguments, 'invalid NOTIFY');
          rcpt.notify = vals;
          break;
        }
        case 'ORCPT':
          rcpt.orcpt = parseOrcpt(value, tx.smtputf8); // rfc3461:4.2, rfc6533:3
          break;
        default:
          throw this.bad(C.ParamsNotAccommodated, E.InvalidArguments, `unrecognized parameter ${key}`);
      }
    }
    rcpt.info = await this.policy.rcptTo(this, tx, rcpt);
    // The same recipient twice gets one copy: a repeated RCPT is answered but not added again.
    const dup = tx.recipients.some(
      (r) => r.address.localpart === rcpt.address.localpart && r.address.domain === rcpt.address.domain,
    );
    if (!dup) tx.recipients.push(rcpt);
    this.reply(C.Completed, '2.1.5', 'recipient ok');
  }

  private cmdData(args: string): void {
    if (args) throw this.bad(C.ParamSyntaxError, E.InvalidArguments, 'no parameters allowed');
    const tx = this.transaction;
    if (!tx) throw this.bad(C.BadSequence, E.InvalidCommand, 'MAIL FROM first');
    // rfc2920:3.1 with pipelining, DATA after only failed RCPTs gets an error, not 354.
    if (tx.recipients.length === 0) throw this.bad(C.TransactionFailed, E.InvalidCommand, 'no valid recipients');
    const sink = new MessageSink({ tmpDir: this.opts.tmpDir, maxSize: this.policy.maxMessageSize });
    const reader = new DataReader((b) => sink.write(b));
    this.data = { reader, sink };
    this.mode = 'data';
    this.reply(C.StartMailInput, undefined, 'end data with <CR><LF>.<CR><LF>');
  }

  private feedData(chunk: Buffer): void {
    const d = this.data!;
    const n = d.reader.feed(chunk);
    if (d.sink.needsDrain) {
      // Back-pressure: stop reading the socket until the spill file has caught up.
      this.sock.pause();
      this.busy = true;
      d.sink.drained().then(
        () => {
          this.busy = false;
          this.sock.resume();
          this.pump();
        },
        () => {
          this.busy = false;
          this.pump();
        },
      );
    }
    if (!d.reader.finished) return;
    this.unshiftInput(chunk.subarray(n));
    this.mode = 'command';
    this.data = undefined;
    this.busy = true;
    this.finishData(d.reader, d.sink)
      .catch((e: unknown) => this.commandError(e))
      .finally(() => {
        this.transaction = undefined; // rfc5321:4.1.1.4 the transaction ends with the DATA reply
        void d.sink.discard();
        this.busy = false;
        this.pump();
      });
  }

  private async finishData(reader: DataReader, sink: MessageSink): Promise<void> {
    const tx = this.transaction!;
    const r = reader.result();
    const msg = await sink.finish();
    if (r.bareCR || r.bareLF) {
      // rfc5321:2.3.8 bare CR and LF are not line endings; accepting them enables SMTP smuggling.
      throw this.bad(C.TransactionFailed, E.ContentOther, `message contains bare ${r.bareCR ? 'CR' : 'LF'}, refused (rfc5321 2.3.8, smtp smuggling)`);
    }
    if (msg.tooBig) throw this.bad(C.ExceededStorage, E.MsgTooBig, `message too big, maximum is ${this.policy.maxMessageSize} bytes`);
    const text = await this.policy.data(this, tx, msg);
    this.reply(C.Completed, '2.0.0', text);
  }
}

function tlsInfo(s: TLSSocket): { version: string; cipher: string } {
  const c = s.getCipher();
  return { version: s.getProtocol() ?? 'unknown', cipher: c?.standardName ?? c?.name ?? 'unknown' };
}

/** IPv4-mapped IPv6 addresses as plain IPv4. */
export function normalizeIP(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** Random per process; the ids below append a counter (no randomBytes call per message). */
const RECEIVED_ID_PREFIX = randomBytes(6).toString('base64url');
let receivedIdCounter = randomBytes(4).readUInt32BE(0);

/**
 * An id for Received headers and 250 replies, unique enough to find a message in logs: a random
 * per-process prefix and a counter starting at a random value.
 */
export function newReceivedId(): string {
  return RECEIVED_ID_PREFIX + (receivedIdCounter++).toString(36);
}
