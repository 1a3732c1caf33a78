/**
 * SMTP reply codes (rfc5321:4.2.2, 4.2.3) and enhanced status codes (rfc3463, registry per
 * rfc5248) as named constants, plus the error type thrown by SMTP command handlers.
 * Handlers never write bare numbers: `throw new SmtpError(C.MailboxUnavailable, E.BadDestMailbox, ...)`.
 */

/** Basic reply codes. */
export const C = {
  ServiceReady: 220, // rfc5321:4.2.3
  ServiceClosing: 221,
  AuthSuccess: 235, // rfc4954:6
  Completed: 250,
  UserNotLocalWillForward: 251,
  CannotVerify: 252,
  AuthContinue: 334, // rfc4954:4
  StartMailInput: 354,
  ServiceNotAvailable: 421, // also: closing the connection
  MailboxUnavailableTemp: 450,
  LocalError: 451,
  InsufficientStorage: 452,
  TempAuthFailure: 454, // rfc4954:6
  ParamsNotAccommodatedTemp: 455,
  SyntaxError: 500,
  ParamSyntaxError: 501,
  NotImplemented: 502,
  BadSequence: 503,
  ParamNotImplemented: 504,
  AuthRequired: 530, // rfc4954:6
  AuthFailed: 535, // rfc4954:6
  EncryptionNeeded: 538, // rfc4954:6
  MailboxUnavailable: 550,
  UserNotLocal: 551,
  ExceededStorage: 552,
  MailboxNameNotAllowed: 553,
  TransactionFailed: 554,
  ParamsNotAccommodated: 555,
} as const;
export type ReplyCode = (typeof C)[keyof typeof C] | number;

/**
 * Enhanced status code subject.detail parts (rfc3463:3); the class digit (2, 4, 5) is taken from
 * the reply code, so `E.BadDestMailbox` with 550 becomes "5.1.1" and with 450 "4.1.1".
 */
export const E = {
  Other: '0.0', // rfc3463:3.1
  // Addressing (rfc3463:3.2)
  AddrOther: '1.0',
  BadDestMailbox: '1.1',
  BadDestSystem: '1.2',
  BadDestSyntax: '1.3',
  DestAmbiguous: '1.4',
  DestValid: '1.5',
  Moved: '1.6',
  BadSenderSyntax: '1.7',
  BadSenderSystem: '1.8',
  NullMXRecipient: '1.10', // rfc7505:4.2
  // Mailbox (rfc3463:3.3)
  MailboxOther: '2.0',
  MailboxDisabled: '2.1',
  MailboxFull: '2.2',
  MsgLimitExceeded: '2.3',
  ListExpansion: '2.4',
  // Mail system (rfc3463:3.4)
  SystemOther: '3.0',
  SystemFull: '3.1',
  SystemNotAccepting: '3.2',
  SystemNotCapable: '3.3',
  MsgTooBig: '3.4',
  SystemIncorrectlyConfigured: '3.5',
  // Network and routing (rfc3463:3.5)
  NetOther: '4.0',
  NoAnswer: '4.1',
  BadConnection: '4.2',
  DirectoryServer: '4.3',
  UnableToRoute: '4.4',
  Congestion: '4.5',
  RoutingLoop: '4.6',
  DeliveryTimeExpired: '4.7',
  // Protocol (rfc3463:3.6)
  ProtoOther: '5.0',
  InvalidCommand: '5.1',
  SyntaxError: '5.2',
  TooManyRecipients: '5.3',
  InvalidArguments: '5.4',
  WrongVersion: '5.5',
  AuthExchangeTooLong: '5.6', // rfc4954:6
  // Content (rfc3463:3.7)
  ContentOther: '6.0',
  MediaNotSupported: '6.1',
  ConversionRequired: '6.2',
  ConversionNotSupported: '6.3',
  ConversionLossy: '6.4',
  ConversionFailed: '6.5',
  MessageHeaderBad: '6.0', // used for malformed messages
  NonASCIIAddrNotPermitted: '6.7', // rfc6531:3.7.4.1
  // Security and policy (rfc3463:3.8)
  SecOther: '7.0',
  DeliveryNotAuthorized: '7.1',
  ExpansionNotAuthorized: '7.2',
  ConversionRequiresUnavailableSecurity: '7.3',
  SecurityNotSupported: '7.4',
  CryptoFailure: '7.5',
  CryptoAlgoNotSupported: '7.6',
  MessageIntegrityFailure: '7.7',
  AuthCredentialsInvalid: '7.8', // rfc4954:6
  AuthMechanismWeak: '7.9', // rfc4954:6
  EncryptionNeeded: '7.10', // rfc5248 registry: X.7.10 Encryption Needed
  AuthEncryptionRequired: '7.11', // rfc4954:6 encryption required for the requested authentication mechanism
  AuthPasswordTransition: '7.12', // rfc4954:6
  AccountDisabled: '7.13', // rfc5248
  TrustRelationshipRequired: '7.14',
  PriorityTooLow: '7.15',
  MessageTooBigForPriority: '7.16',
  MailboxOwnerChanged: '7.17',
  DomainOwnerChanged: '7.18',
  RRVSCannotComplete: '7.19',
  NoPassingDKIM: '7.20', // rfc7372
  DMARCPolicy: '7.1', // rfc7489:7.3 suggests 5.7.1 for p=reject
  SPFFailed: '7.23', // rfc7372:3.2
  SPFError: '7.24',
  ReverseDNSFailed: '7.25',
  MultipleAuthFailed: '7.26',
  SenderNullMX: '7.27', // rfc7505:4.1
  RequireTLS: '7.30', // rfc8689:5
} as const;
export type EnhancedDetail = (typeof E)[keyof typeof E] | string;

/** Full enhanced code for a reply code, e.g. (550, "1.1") → "5.1.1". Undefined for 1xx/3xx. */
export function enhancedCode(code: number, detail: EnhancedDetail): string | undefined {
  const cls = Math.floor(code / 100);
  if (cls !== 2 && cls !== 4 && cls !== 5) return undefined;
  // Tolerate a full code ("4.7.0") where a detail ("7.0") was meant: the class follows the reply code.
  const full = /^[245]\.(\d{1,3}\.\d{1,3})$/.exec(detail);
  return `${cls}.${full ? full[1] : detail}`;
}

/**
 * The error thrown by SMTP command handlers and caught once per command, which writes the reply.
 * `closeConnection` makes the server close after replying (e.g. 421, or a line that was too long).
 */
export class SmtpError extends Error {
  override readonly name = 'SmtpError';
  constructor(
    readonly code: number,
    readonly detail: EnhancedDetail,
    message: string,
    readonly opts: { closeConnection?: boolean; cause?: unknown; /** refusal caused by the client (not our fault), for metrics/logs */ userError?: boolean } = {},
  ) {
    super(message, { cause: opts.cause });
  }
  get enhanced(): string | undefined {
    return enhancedCode(this.code, this.detail);
  }
  /** Reply lines as sent: "550 5.1.1 no such user". */
  get replyText(): string {
    const enh = this.enhanced;
    return `${this.code} ${enh ? `${enh} ` : ''}${this.message}`;
  }
}

/**
 * Parse an SMTP reply's code and enhanced code from its text, as the queue does for remote replies
 * (and the DSN parser for diagnostic codes): "550 5.1.1 no such user" → {code: 550, enhanced: "5.1.1"}.
 */
export function parseReplyCodes(text: string): { code?: number; enhanced?: string; message: string } {
  const m = /^\s*([2-5]\d\d)(?:[ -]|$)\s*(?:([245]\.\d{1,3}\.\d{1,3})(?:\s|$))?(.*)$/s.exec(text);
  if (!m) return { message: text.trim() };
  return { code: Number(m[1]), enhanced: m[2], message: (m[3] ?? '').trim() };
}
