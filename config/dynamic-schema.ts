/**
 * Schema of domains.conf, the dynamic configuration (reloaded on change and on SIGHUP). Key names
 * follow mox exactly. The `.describe()` texts are the documentation rendered by `describeDomains()`.
 */
import * as z from 'zod';
import { duration, regexp, named, type DeepReadonly } from './schema-helpers.js';


/** Outgoing webhook event names a config may subscribe to (mox's list plus "complained"). */
export const OUTGOING_WEBHOOK_EVENTS = [
  'delivered',
  'suppressed',
  'delayed',
  'failed',
  'relayed',
  'expanded',
  'canceled',
  'unrecognized',
  'complained',
] as const;

export const DEFAULT_MAX_OUTGOING_MESSAGES_PER_DAY = 1000;
export const DEFAULT_MAX_FIRST_TIME_RECIPIENTS_PER_DAY = 200;

export const RouteSchema = z
  .strictObject({
    FromDomain: z
      .array(z.string())
      .optional()
      .describe('Match when the message is from one of these domains; a leading dot also matches subdomains. Empty matches all.'),
    ToDomain: z
      .array(z.string())
      .optional()
      .describe('Match when the recipient is in one of these domains; a leading dot also matches subdomains. Empty matches all.'),
    MinimumAttempts: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe('Only match once this many delivery attempts have been made, e.g. to fall back to a smarthost.'),
    Transport: z.string().min(1).describe('Name of the transport (mox.conf Transports) to use when this route matches.'),
  })
  .describe('A route: the first matching route (account, then domain, then global) picks the transport.');

const routes = (where: string) =>
  z.array(RouteSchema).optional().describe(`Routes for outgoing messages ${where}, evaluated in order.`);

const reportAddress = (what: string, mailboxDefault: string) =>
  z
    .strictObject({
      Localpart: z.string().min(1).describe(`Localpart of the address that receives ${what}, e.g. "${mailboxDefault.toLowerCase()}reports".`),
      Domain: z.string().optional().describe('Domain of that address; default the domain this is configured under. Must be a configured domain.'),
      Account: z.string().min(1).describe('Account that receives the reports.'),
      Mailbox: z.string().min(1).describe(`Mailbox in that account, e.g. "${mailboxDefault}".`),
    })
    .optional()
    .describe(`Address for incoming ${what}; the reports are parsed and shown in the admin interface.`);

export const DKIMSelectorSchema = z.strictObject({
  Hash: z.enum(['sha256', 'sha1']).default('sha256').describe('Hash algorithm for signatures; sha1 only for old verifiers.'),
  Canonicalization: z
    .strictObject({
      HeaderRelaxed: z.boolean().default(true).describe('Relaxed (instead of simple) header canonicalization.'),
      BodyRelaxed: z.boolean().default(true).describe('Relaxed (instead of simple) body canonicalization.'),
    })
    .optional()
    .describe('Canonicalization; relaxed/relaxed when absent.'),
  Headers: z
    .array(z.string())
    .optional()
    .describe('Header fields to sign; a sensible default list (From, To, Subject, Date, Message-ID, …) when absent. From is always signed.'),
  DontSealHeaders: z
    .boolean()
    .default(false)
    .describe('Do not "seal" signed headers (listing them once more so that none can be added later).'),
  Expiration: duration().optional().describe('Signature validity period, e.g. "72h"; no expiration when absent.'),
  PrivateKeyFile: z
    .string()
    .min(1)
    .describe('Private key (RSA or ed25519, PKCS#8 PEM) for this selector. Relative to the config directory.'),
});

export const AliasSchema = z.strictObject({
  Addresses: z.array(z.string()).min(1).describe('Addresses of the members; each must be an address of a local account.'),
  PostPublic: z.boolean().default(false).describe('Anyone may send to the alias; otherwise only members may.'),
  ListMembers: z.boolean().default(false).describe('Members may see who the other members are.'),
  AllowMsgFrom: z
    .boolean()
    .default(false)
    .describe('Members may send messages with the alias address as their From address.'),
});

export const DomainSchema = z.strictObject({
  Disabled: z
    .boolean()
    .default(false)
    .describe('Disabled domain: incoming mail is refused with a temporary error and submission from it fails; logins still work.'),
  Description: z.string().optional().describe('Free-form description shown in the admin interface.'),
  ClientSettingsDomain: z
    .string()
    .optional()
    .describe('Hostname mail clients should use for IMAP/submission (e.g. mail.example.com), for autoconfig and client settings.'),
  LocalpartCatchallSeparator: z
    .string()
    .min(1)
    .optional()
    .describe('Separator for catchall-style address extensions: with "+", mail to user+anything@ goes to user@. Set this or LocalpartCatchallSeparators, not both.'),
  LocalpartCatchallSeparators: z
    .array(z.string().min(1))
    .optional()
    .describe('Several separators, e.g. ["+", "-"]; the localpart is cut at the first occurrence of any. The first is used for fromid addresses.'),
  LocalpartCaseSensitive: z
    .boolean()
    .default(false)
    .describe('Treat localparts case-sensitively; by default User@ and user@ are the same address.'),
  DKIM: z
    .strictObject({
      Selectors: named(DKIMSelectorSchema).default({}).describe('DKIM selectors by name, each with its private key.'),
      Sign: z.array(z.string()).default([]).describe('Selectors used to sign outgoing messages from this domain.'),
    })
    .optional()
    .describe('DKIM keys for signing outgoing messages.'),
  DMARC: reportAddress('DMARC aggregate reports', 'DMARC'),
  TLSRPT: reportAddress('TLS reports (TLSRPT)', 'TLSRPT'),
  MTASTS: z
    .strictObject({
      PolicyID: z.string().min(1).describe('Policy ID published in the _mta-sts TXT record; change it when the policy changes.'),
      Mode: z.enum(['enforce', 'testing', 'none']).describe('Policy mode: enforce, testing or none.'),
      MaxAge: duration().describe('How long senders may cache the policy, e.g. "24h".'),
      MX: z.array(z.string()).optional().describe('Allowed MX hostnames (may start with "*."); default the server hostname.'),
    })
    .optional()
    .describe('MTA-STS policy (RFC 8461) served for this domain.'),
  Routes: routes('from this domain'),
  Aliases: named(AliasSchema)
    .optional()
    .describe('Aliases (mailing lists) by localpart: mail to the alias is delivered to all member addresses.'),
});

export const RulesetSchema = z
  .strictObject({
    SMTPMailFromRegexp: regexp().optional().describe('Match when the SMTP MAIL FROM address matches this regular expression.'),
    MsgFromRegexp: regexp().optional().describe('Match when the message From address matches this regular expression.'),
    VerifiedDomain: z.string().optional().describe('Match when this domain (or a parent) is verified by SPF or DKIM.'),
    HeadersRegexp: z
      .record(z.string(), regexp())
      .optional()
      .describe('Match when, for each entry, a header whose name matches the key has a value matching the value (regular expressions, case-insensitive).'),
    IsForward: z
      .boolean()
      .default(false)
      .describe('The matched messages are forwarded by another server: skip reputation checks that would reject them.'),
    ListAllowDomain: z
      .string()
      .optional()
      .describe('Messages from this mailing-list domain (verified by SPF/DKIM) are accepted without the junk filter.'),
    AcceptRejectsToMailbox: z
      .string()
      .optional()
      .describe('Messages that would be rejected are accepted into this mailbox instead, with no bounce.'),
    Mailbox: z.string().min(1).describe('Mailbox to deliver matching messages to.'),
    Comment: z.string().optional().describe('Free-form comment for your own reference.'),
  })
  .superRefine((r, ctx) => {
    if (!r.SMTPMailFromRegexp && !r.MsgFromRegexp && !r.VerifiedDomain && !r.HeadersRegexp) {
      ctx.addIssue({
        code: 'custom',
        message: 'a ruleset needs at least one of SMTPMailFromRegexp, MsgFromRegexp, VerifiedDomain or HeadersRegexp',
      });
    }
  })
  .describe('A ruleset: when all its matchers match, the message goes to Mailbox.');

export const DestinationSchema = z.strictObject({
  Mailbox: z.string().min(1).default('Inbox').describe('Mailbox to deliver to when no ruleset matches.'),
  Rulesets: z.array(RulesetSchema).optional().describe('Rules evaluated in order; the first match picks the mailbox.'),
  SMTPError: z
    .string()
    .regex(/^(421|550)( .*)?$/, 'must start with 421 or 550')
    .optional()
    .describe('Refuse all mail to this address with this SMTP error ("421 …" temporary, "550 …" permanent).'),
  FullName: z.string().optional().describe('Display name used in From when sending from this address; default the account FullName.'),
});

export const WebhookURLSchema = z
  .string()
  .superRefine((s, ctx) => {
    let u: URL | undefined;
    try {
      u = new URL(s);
    } catch {
      /* handled below */
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
      ctx.addIssue({ code: 'custom', message: `must be an http or https URL, got ${JSON.stringify(s)}` });
    }
  })
  .describe('URL to POST webhooks to (http or https).');

export const AccountSchema = z.strictObject({
  Domain: z.string().min(1).describe('Default domain of the account (for new addresses and display); must be a configured domain.'),
  Description: z.string().optional().describe('Free-form description shown in the admin interface.'),
  FullName: z.string().optional().describe('Display name used in From when sending.'),
  Destinations: named(DestinationSchema).describe(
    'Addresses of the account, as full addresses (user@example.com) or "@example.com" for a catchall of the whole domain, with delivery settings.',
  ),
  KeepRetiredMessagePeriod: duration()
    .default(0)
    .describe('Keep delivered/failed outgoing messages this long after they leave the queue (needed to match incoming DSNs); "0s" keeps none.'),
  KeepRetiredWebhookPeriod: duration().default(0).describe('Keep finished webhooks this long; "0s" keeps none.'),
  OutgoingWebhook: z
    .strictObject({
      URL: WebhookURLSchema,
      Authorization: z.string().optional().describe('Value sent verbatim as the Authorization header, e.g. "Bearer …".'),
      Events: z
        .array(z.enum(OUTGOING_WEBHOOK_EVENTS))
        .optional()
        .describe(`Events to send; all when empty. One of: ${OUTGOING_WEBHOOK_EVENTS.join(', ')}.`),
    })
    .optional()
    .describe('Webhook for delivery events of outgoing messages.'),
  IncomingWebhook: z
    .strictObject({
      URL: WebhookURLSchema,
      Authorization: z.string().optional().describe('Value sent verbatim as the Authorization header.'),
    })
    .optional()
    .describe('Webhook called for each incoming message (instead of only delivering it to a mailbox).'),
  FromIDLoginAddresses: z
    .array(z.string())
    .optional()
    .describe('Login addresses for which submitted messages get a unique SMTP MAIL FROM (localpart + separator + id), to match DSNs. Must be addresses of this account.'),
  MaxOutgoingMessagesPerDay: z
    .number()
    .int()
    .nonnegative()
    .default(DEFAULT_MAX_OUTGOING_MESSAGES_PER_DAY)
    .describe('Maximum outgoing messages in a rolling 24 hours.'),
  MaxFirstTimeRecipientsPerDay: z
    .number()
    .int()
    .nonnegative()
    .default(DEFAULT_MAX_FIRST_TIME_RECIPIENTS_PER_DAY)
    .describe('Maximum first-time recipients (never sent to before) in a rolling 24 hours.'),
  QuotaMessageSize: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Maximum total size in bytes of all messages; 0 unlimited; default the global QuotaMessageSize.'),
  LoginDisabled: z
    .string()
    .optional()
    .describe('When set, logins are refused and this message is shown to the user; mail is still delivered.'),
  NoFirstTimeSenderDelay: z
    .boolean()
    .default(false)
    .describe('Do not delay first-time senders for deliveries to this account.'),
  NoCustomPassword: z.boolean().default(false).describe('The user may only set generated passwords.'),
  RejectsMailbox: z
    .string()
    .optional()
    .describe('Mailbox where rejected incoming messages (junk) are kept for a while, so they can be found.'),
  KeepRejects: z.boolean().default(false).describe('Never clean up the RejectsMailbox automatically.'),
  Routes: routes('from this account'),
});

export const DynamicConfigSchema = z.strictObject({
  Domains: named(DomainSchema)
    .default({})
    .describe('Domains this server receives and sends mail for, by domain name (unicode or punycode).'),
  Accounts: named(AccountSchema).default({}).describe('Accounts by name, with their addresses and settings.'),
  Routes: routes('of all accounts (global, evaluated after account and domain routes)'),
  MonitorDNSBLs: z.array(z.string()).optional().describe('DNS blocklist zones to monitor the IPs of this server in.'),
});

export type DynamicConfigInput = z.input<typeof DynamicConfigSchema>;
export type DynamicConfig = DeepReadonly<z.output<typeof DynamicConfigSchema>>;
export type Domain = DynamicConfig['Domains'][string];
export type Account = DynamicConfig['Accounts'][string];
export type Destination = Account['Destinations'][string];
export type Ruleset = NonNullable<Destination['Rulesets']>[number];
export type Route = NonNullable<DynamicConfig['Routes']>[number];
export type Alias = NonNullable<Domain['Aliases']>[string];
export type DKIMSelector = NonNullable<Domain['DKIM']>['Selectors'][string];
export type OutgoingWebhookEvent = (typeof OUTGOING_WEBHOOK_EVENTS)[number];
