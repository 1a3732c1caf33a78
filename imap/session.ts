/**
 * One IMAP connection (rfc9051:3 state machine: not authenticated → authenticated → selected →
 * logout). Reads commands with reader.ts, parses them with protocol/command.ts, checks the state,
 * runs the command's module (imap/commands/<verb>.ts) and answers. Errors are caught once per
 * command: ImapError becomes its tagged NO/BAD, a store error its NO with a response code, anything
 * else a logged NO [SERVERBUG]. Changes made by other sessions (store change bus) are reported
 * after each command and during IDLE, following the rules in selected.ts.
 */
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import type { Account } from '../store/account.js';
import { StoreError } from '../store/types.js';
import type { LoginGuard } from '../auth/login.js';
import { tlsExporterBinding, type ChannelBinding } from '../auth/sasl.js';
import type { Metrics } from '../metrics/registry.js';
import { ImapError } from './errors.js';
import { CommandReader, type ReaderEvent } from './protocol/reader.js';
import { ResponseWriter } from './protocol/writer.js';
import { parseCommand, type Command, type CommandName } from './protocol/command.js';
import { SelectedMailbox } from './selected.js';
import { encodeUtf7, tryDecodeUtf7 } from './utf7.js';
import { COMMANDS } from './commands/index.js';
import type { Change } from '../store/changes.js';

/** rfc9051:5.4 autologout timer: at least 30 minutes of inactivity. */
export const IDLE_TIMEOUT_MS = 30 * 60_000;
/** Unprocessed input above which we stop reading from the socket. */
const MAX_PENDING_INPUT = 256 * 1024;
/** After this many BAD commands in a row the client is broken or hostile: BYE. */
export const MAX_BAD_IN_A_ROW = 50;

export type SessionState = 'notauth' | 'auth' | 'selected' | 'logout';

/** Pipelined APPENDs run concurrently at most this many at a time. */
const MAX_APPEND_BATCH = 64;

interface CommandOutcome {
  tag: string | undefined;
  command?: Command;
  /** OK text (undefined: default; null: the handler answered). */
  text?: string | null | void;
  error?: ImapError;
  parseError?: boolean;
  start: bigint;
}

/** Cheap check whether an assembled command is an APPEND ("tag APPEND "). */
function isAppend(data: Buffer): boolean {
  const sp = data.indexOf(0x20);
  if (sp < 0 || sp > 100) return false;
  return data.subarray(sp + 1, sp + 8).toString('latin1').toUpperCase() === 'APPEND ';
}

export interface ImapConfig {
  store: Store;
  loginGuard: LoginGuard;
  log: Logger;
  metrics?: Metrics;
  hostname: string;
  /** For STARTTLS (port 143); undefined when the listener has no certificate. */
  tlsContext?: SecureContext;
  /** Connection is TLS from the start (port 993). */
  implicitTLS: boolean;
  /** Login with a plaintext password without TLS (mox NoRequireSTARTTLS, localserve). */
  allowPlaintextLogin: boolean;
  /** Largest APPEND literal (APPENDLIMIT). */
  appendLimit: number;
  idleTimeoutMs?: number;
  clock?: () => Date;
}

export interface Output {
  tag: string;
}

export class Session {
  readonly cid: string;
  readonly log: Logger;
  readonly remoteIP: string;
  readonly localIP: string;
  sock: Duplex;
  readonly w: ResponseWriter;
  private readonly reader: CommandReader;
  state: SessionState = 'notauth';
  tls: boolean;
  /** Capabilities the client ENABLEd (upper-case). */
  readonly enabled = new Set<string>();
  /** rfc7162:3.1 CONDSTORE active (ENABLE, SELECT (CONDSTORE), or a CONDSTORE command). */
  condstore = false;
  accountName: string | undefined;
  account: Account | undefined;
  selected: SelectedMailbox | undefined;
  /** rfc5182 saved search result: uids. */
  savedResult: number[] = [];
  /** rfc2971 ID name/version of the client, for login attempt records. */
  clientId: string | undefined;
  private unsubscribe: (() => void) | undefined;
  private busy = false;
  private closed = false;
  private lineWaiter: ((line: Buffer | undefined) => void) | undefined;
  private idleWaker: (() => void) | undefined;
  private badInARow = 0;
  /** A reader event taken while batching APPENDs, to handle next. */
  private heldEvent: ReaderEvent | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly cfg: ImapConfig,
    socket: Socket | TLSSocket,
    cid: string,
    log: Logger,
    private readonly onClose: () => void,
  ) {
    this.cid = cid;
    this.log = log;
    this.sock = socket;
    this.remoteIP = normalizeIP(socket.remoteAddress ?? '');
    this.localIP = normalizeIP(socket.localAddress ?? '');
    this.tls = cfg.implicitTLS;
    this.w = new ResponseWriter(socket);
    this.reader = new CommandReader(() => cfg.appendLimit);
    socket.setNoDelay?.(true);
    (socket as Socket).setKeepAlive?.(true, 60_000);
    this.attach(socket);
  }

  get now(): Date {
    return this.cfg.clock ? this.cfg.clock() : new Date();
  }

  /** UTF-8 mailbox names and quoted strings (rfc6855 UTF8=ACCEPT, rfc9051 IMAP4rev2). */
  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4REV2');
  }

  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }

  get qresync(): boolean {
    return this.enabled.has('QRESYNC');
  }

  /** Mailbox name from the client (modified UTF-7 for rev1 clients without UTF8=ACCEPT). */
  decodeName(raw: string): string {
    let n = raw;
    if (!this.utf8) n = tryDecodeUtf7(raw) ?? raw;
    n = n.normalize('NFC');
    while (n.endsWith('/') && n.length > 1) n = n.slice(0, -1);
    return n;
  }

  /** Mailbox name for the client: INBOX spelled so, modified UTF-7 unless UTF-8 is on. */
  encodeName(name: string): string {
    let n = name;
    if (n === 'Inbox' || n.startsWith('Inbox/')) n = 'INBOX' + n.slice(5);
    return this.utf8 ? n : encodeUtf7(n);
  }

  xaccount(): Account {
    if (!this.account) throw new ImapError('BAD', undefined, 'not authenticated');
    return this.account;
  }

  xselected(): SelectedMailbox {
    if (!this.selected) throw new ImapError('BAD', undefined, 'no mailbox selected');
    return this.selected;
  }

  channelBinding(): ChannelBinding | undefined {
    return this.sock instanceof TLSSocket ? tlsExporterBinding(this.sock) : undefined;
  }

  private attach(s: Duplex): void {
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('error', (err: Error) => this.log.debug({ err: err.message }, 'socket error'));
    s.on('close', () => this.cleanup());
    s.on('end', () => {
      if (!this.closed) this.close();
    });
    this.armTimer();
  }

  private armTimer(): void {
    if (this.idleWaker) {
      // rfc2177:3 IDLE may last longer; keepalive finds dead peers.
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    // Called for every chunk of input: restarting the running timer is cheaper than a new one.
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    const ms = this.cfg.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    this.timer = setTimeout(() => {
      if (this.closed) return;
      // A long command (e.g. a big FETCH to a slow reader) is not inactivity.
      if (this.busy && !this.lineWaiter) return this.armTimer();
      this.w.line('* BYE autologout, idle for too long');
      void this.w.flush().finally(() => this.close());
    }, ms);
    this.timer.unref?.();
  }

  /** Greeting (rfc9051:7.1.1), or BYE when the connection is refused. */
  start(refusal?: string): void {
    if (refusal) {
      this.w.line(`* BYE [UNAVAILABLE] ${refusal}`);
      void this.w.flush().finally(() => this.close());
      return;
    }
    this.w.line(`* OK [CAPABILITY ${this.capabilities()}] ${this.cfg.hostname} moxts imap ready`);
    void this.w.flush();
  }

  capabilities(): string {
    return capabilityList(this);
  }

  private onData(chunk: Buffer): void {
    this.armTimer();
    this.reader.push(chunk);
    if (this.lineWaiter) {
      const ev = this.reader.next();
      if (ev?.kind === 'line') {
        const w = this.lineWaiter;
        this.lineWaiter = undefined;
        this.reader.lineMode = false;
        w(ev.line);
      } else if (ev?.kind === 'refused') {
        this.lineWaiter = undefined;
        this.reader.lineMode = false;
        this.w.line(`* BYE ${ev.message}`);
        void this.w.flush().finally(() => this.close());
        return;
      }
    }
    if (this.reader.buffered > MAX_PENDING_INPUT && !this.reader.midCommand) this.sock.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy || this.closed || this.lineWaiter) return;
    this.busy = true;
    try {
      while (!this.closed && !this.lineWaiter) {
        const ev = this.heldEvent ?? this.reader.next();
        this.heldEvent = undefined;
        if (!ev) break;
        if (ev.kind === 'continue') {
          this.w.line('+ OK');
          await this.w.flush();
        } else if (ev.kind === 'refused') {
          this.w.line(`${ev.tag ?? '*'} BAD [${ev.code}] ${ev.message}`);
          if (ev.fatal) {
            this.w.line('* BYE closing connection');
            await this.w.flush();
            this.close();
            return;
          }
          await this.w.flush();
        } else if (ev.kind === 'line') {
          // A line while no command waits for one (e.g. a stray DONE): treat as a command.
          await this.runCommand(Buffer.concat([ev.line, Buffer.from('\r\n')]));
        } else if (isAppend(ev.data) && this.state !== 'notauth') {
          await this.runAppends(ev.data);
        } else {
          await this.runCommand(ev.data);
        }
      }
    } catch (err) {
      this.log.error({ err }, 'imap session failed');
      this.close();
    } finally {
      this.busy = false;
    }
    if (!this.closed && this.sock.isPaused() && this.reader.buffered < MAX_PENDING_INPUT) this.sock.resume();
  }

  /** During a command: send "+ text" and wait for the client's next line (AUTHENTICATE). */
  async readLine(prompt: string): Promise<Buffer | undefined> {
    this.w.line(`+ ${prompt}`);
    await this.w.flush();
    return this.waitLine();
  }

  waitLine(): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(undefined);
      this.reader.lineMode = true;
      const ev = this.reader.next();
      if (ev?.kind === 'line') {
        this.reader.lineMode = false;
        return resolve(ev.line);
      }
      this.lineWaiter = resolve;
      if (this.sock.isPaused()) this.sock.resume();
    });
  }

  /** IDLE (rfc2177): report changes as they come until the client sends DONE. */
  async idle(): Promise<boolean> {
    this.w.line('+ idling');
    this.reportChanges(true);
    await this.w.flush();
    const waker = () => {
      if (this.closed) return;
      this.reportChanges(true);
      void this.w.flush();
    };
    this.idleWaker = waker;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      const line = await this.waitLine();
      if (line === undefined) return false;
      if (line.toString('latin1').toUpperCase() !== 'DONE') throw new ImapError('BAD', undefined, 'expected DONE to end IDLE');
      return true;
    } finally {
      this.idleWaker = undefined;
      this.armTimer();
    }
  }

  /** Start receiving store changes of the account (after login). */
  login(account: string): void {
    this.accountName = account;
    this.account = this.cfg.store.account(account);
    this.state = 'auth';
    this.unsubscribe = this.cfg.store.changes.subscribe(account, (c: Change) => this.onChange(c));
  }

  private onChange(c: Change): void {
    if (!this.selected) return;
    this.selected.onChange(c);
    if (this.idleWaker && this.selected.hasPending) this.idleWaker();
    if (this.idleWaker && this.selected.gone) this.idleWaker();
  }

  /** Write pending changes of the selected mailbox (expunges only when allowed). */
  reportChanges(expunges: boolean): void {
    const sel = this.selected;
    if (!sel) return;
    if (sel.gone) {
      this.w.line('* BYE [CLOSED] selected mailbox was deleted');
      this.state = 'logout';
      return;
    }
    for (const l of sel.report({ expunges, qresync: this.qresync, condstore: this.condstore, rev1: !this.rev2 })) this.w.line(l);
  }

  private async runCommand(data: Buffer): Promise<void> {
    await this.finishCommand(await this.startCommand(data));
  }

  /**
   * Pipelined APPENDs (LITERAL+ clients send many without waiting): run them concurrently so
   * their messages share group commits (one fsync for many), then answer them in order.
   * rfc9051:5.5 allows commands to run concurrently when their results cannot conflict; APPENDs
   * only add messages.
   */
  private async runAppends(first: Buffer): Promise<void> {
    const batch = [this.startCommand(first)];
    let next: ReaderEvent | undefined;
    while (batch.length < MAX_APPEND_BATCH && !this.closed) {
      next = this.reader.next();
      if (!next || next.kind !== 'command' || !isAppend(next.data)) break;
      batch.push(this.startCommand(next.data));
      next = undefined;
    }
    for (const b of batch) await this.finishCommand(await b);
    this.heldEvent = next;
  }

  /** Parse, check and run a command (without answering it). */
  private async startCommand(data: Buffer): Promise<CommandOutcome> {
    const parsed = parseCommand(data, { utf8: this.utf8 });
    if (!parsed.ok) return { tag: parsed.tag, error: parsed.error, parseError: true, start: 0n };
    const { tag, command } = parsed;
    this.log.trace({ tag, command: command.name }, 'command');
    const spec = COMMANDS[command.name as CommandName];
    const start = process.hrtime.bigint();
    try {
      if (!spec.states.includes(this.state)) {
        throw new ImapError('BAD', undefined, `${command.name} not allowed in this state (${stateText(this.state)})`);
      }
      const text = await spec.run(this, tag, command as never);
      return { tag, command, text, start };
    } catch (err) {
      let e: ImapError;
      if (err instanceof ImapError) e = err;
      else if (err instanceof StoreError) e = storeErrorToImap(err);
      else {
        this.log.error({ err, command: command.name }, 'imap command failed');
        e = new ImapError('NO', 'SERVERBUG', 'internal error, try again later');
      }
      return { tag, command, error: e, start };
    }
  }

  /** Report changes and write the tagged answer of a command. */
  private async finishCommand(o: CommandOutcome): Promise<void> {
    if (this.closed) return;
    const { tag, command, error } = o;
    if (o.parseError && error) {
      this.badInARow++;
      this.w.line(`${tag ?? '*'} BAD ${error.code ? `[${error.code}] ` : ''}${error.message}`);
      if (this.badInARow >= MAX_BAD_IN_A_ROW) {
        this.w.line('* BYE too many bad commands');
        await this.w.flush();
        this.close();
        return;
      }
      await this.w.flush();
      return;
    }
    if (!command) return;
    let result = 'ok';
    if (error) {
      result = error.kind.toLowerCase();
      if (error.kind === 'BAD') this.badInARow++;
      else this.badInARow = 0;
      this.reportChanges(false);
      this.w.line(`${tag} ${error.kind} ${error.code ? `[${error.code}] ` : ''}${error.message}`);
    } else {
      this.badInARow = 0;
      // rfc9051:7.5.1 no EXPUNGE while answering FETCH, STORE or SEARCH (UID versions may).
      const mayExpunge = !('uid' in command && !command.uid && (command.name === 'FETCH' || command.name === 'STORE' || command.name === 'SEARCH'));
      this.reportChanges(mayExpunge);
      if (o.text !== null) this.w.line(`${tag} OK ${o.text ?? `${command.name} completed`}`);
    }
    // The answer is written (the socket write happens inside flush, before it awaits a drain)
    // before the metrics are counted: they are off the client's round trip.
    const written = this.w.flush();
    this.cfg.metrics?.imapCommands?.inc({ command: command.name, result });
    this.cfg.metrics?.imapCommandDuration?.observe({ command: command.name }, Number(process.hrtime.bigint() - o.start) / 1e9);
    await written;
    if (this.state === 'logout') this.close();
  }

  /** STARTTLS (rfc9051:6.2.1): after the OK, the TLS handshake; plaintext pipelined input is dropped. */
  async startTLS(tag: string): Promise<void> {
    const ctx = this.cfg.tlsContext!;
    this.reader.clear();
    this.w.line(`${tag} OK begin TLS negotiation now`);
    await this.w.flush();
    const raw = this.sock as Socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('end');
    raw.removeAllListeners('error');
    raw.on('error', () => {});
    await new Promise<void>((resolve) => {
      const tls = new TLSSocket(raw, { isServer: true, secureContext: ctx });
      const fail = (err: Error) => {
        this.log.debug({ err: err.message }, 'tls handshake failed');
        tls.destroy();
        this.cleanup();
        resolve();
      };
      tls.once('error', fail);
      tls.once('secure', () => {
        tls.off('error', fail);
        this.sock = tls;
        this.w.setSocket(tls);
        this.tls = true;
        this.attach(tls);
        resolve();
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.state = 'logout';
    if (this.lineWaiter) {
      const w = this.lineWaiter;
      this.lineWaiter = undefined;
      w(undefined);
    }
    this.sock.end();
    setTimeout(() => this.sock.destroy(), 1000).unref();
    this.cleanup();
  }

  private cleaned = false;
  private cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    this.closed = true;
    this.w.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.selected = undefined;
    if (this.lineWaiter) {
      const w = this.lineWaiter;
      this.lineWaiter = undefined;
      w(undefined);
    }
    this.onClose();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

function stateText(s: SessionState): string {
  return s === 'notauth' ? 'not authenticated' : s === 'auth' ? 'authenticated, no mailbox selected' : s === 'selected' ? 'mailbox selected' : 'logging out';
}

export function storeErrorToImap(e: StoreError): ImapError {
  switch (e.code) {
    case 'notfound':
      return new ImapError('NO', 'NONEXISTENT', e.message);
    case 'exists':
      return new ImapError('NO', 'ALREADYEXISTS', e.message);
    case 'quota':
      return new ImapError('NO', 'OVERQUOTA', e.message);
    case 'haschildren':
      return new ImapError('NO', 'HASCHILDREN', e.message);
    case 'invalid':
    case 'notallowed':
      return new ImapError('NO', 'CANNOT', e.message);
    case 'closed':
      return new ImapError('NO', 'UNAVAILABLE', e.message);
  }
}

export function normalizeIP(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** The base capabilities we implement (mox §8.2 order, minus what we leave out: imap/README.md). */
export const BASE_CAPABILITIES = [
  'IMAP4rev2',
  'IMAP4rev1',
  'ENABLE',
  'LITERAL+',
  'IDLE',
  'SASL-IR',
  'BINARY',
  'UNSELECT',
  'UIDPLUS',
  'ESEARCH',
  'SEARCHRES',
  'MOVE',
  'UTF8=ACCEPT',
  'LIST-EXTENDED',
  'SPECIAL-USE',
  'CREATE-SPECIAL-USE',
  'LIST-STATUS',
];
export const TAIL_CAPABILITIES = ['ID', 'CONDSTORE', 'QRESYNC', 'STATUS=SIZE', 'QUOTA', 'QUOTA=RES-STORAGE', 'WITHIN', 'NAMESPACE', 'MULTIAPPEND', 'PREVIEW'];

function capabilityList(s: Session): string {
  const caps = [...BASE_CAPABILITIES];
  if (s.state === 'notauth') {
    const plus = s.channelBinding() !== undefined;
    if (plus) caps.push('AUTH=SCRAM-SHA-256-PLUS');
    caps.push('AUTH=SCRAM-SHA-256');
    if (plus) caps.push('AUTH=SCRAM-SHA-1-PLUS');
    caps.push('AUTH=SCRAM-SHA-1');
  }
  caps.push(...TAIL_CAPABILITIES.slice(0, 1), `APPENDLIMIT=${s.cfg.appendLimit}`, ...TAIL_CAPABILITIES.slice(1));
  if (s.state === 'notauth') {
    if (!s.tls && s.cfg.tlsContext) caps.push('STARTTLS');
    // CRAM-MD5 (rfc2195) is offered where PLAIN is: its exchange can be brute-forced offline.
    if (s.tls || s.cfg.allowPlaintextLogin) caps.push('AUTH=CRAM-MD5', 'AUTH=PLAIN');
    else caps.push('LOGINDISABLED');
  }
  return caps.join(' ');
}

export type { Command };
