// Bounce classification: maps an enhanced status code (rfc3463), an SMTP reply code (rfc5321:4.2)
// and the diagnostic text to a reason. Reason names follow sisimai's taxonomy where they exist
// (userunknown, mailboxfull, hostunknown, expired, blocked, spamdetected → spam, policyviolation →
// policy, mesgtoobig → toolarge, norelaying, suspend, …), with fewer, coarser classes.

export type BounceClass =
  | 'userunknown' // the mailbox does not exist (x.1.1, x.1.10 Microsoft, "user unknown", …)
  | 'mailboxfull' // over quota (x.2.2)
  | 'toolarge' // message too big (x.3.4, x.2.3)
  | 'hostunknown' // the domain has no MX/A, unroutable (x.1.2, x.4.4)
  | 'suspended' // the mailbox exists but is disabled (x.2.1)
  | 'norelaying' // relaying denied
  | 'spam' // content judged to be spam/virus (x.7.1 with spam wording)
  | 'blocked' // the sending host/IP is blocked (blocklist, reputation, PTR)
  | 'policy' // authentication/DMARC/policy rejections (x.7.x)
  | 'expired' // gave up after retrying (x.4.7)
  | 'temporary' // transient, will be or could be retried (4xx)
  | 'delivered' // a success report (Action delivered/relayed/expanded)
  | 'other' // a bounce we could not classify
  | 'autoreply' // rfc3834 auto-reply / out of office: not a bounce
  | 'notabounce'; // an ordinary message

interface TextRule {
  cls: BounceClass;
  re: RegExp;
}

/** Text rules, most specific first. Sources: sisimai lib/Sisimai/Reason/*.pm phrase lists (BSD-2),
 * common MTA wordings seen in the bounce corpus. */
const TEXT_RULES: TextRule[] = [
  {
    cls: 'mailboxfull',
    re: /mail ?box (?:is )?full|mailbox (?:has )?exceeded|over (?:the )?quota|over ?quota|quota (?:exceeded|full|violation)|exceed(?:s|ed)? (?:the |his |her |their )?(?:storage|quota|mailbox size)|insufficient (?:disk |system )?(?:space|storage)|mailbox (?:size|storage) (?:limit|exceeded)|user(?:'s)? (?:mailbox )?is over|not enough (?:disk )?space|disk quota|too many messages in|mailfolder is full|mailbox is frozen|box full|MailboxFull|QuotaExceeded|user has exceeded|mailbox exceeds|storage (?:space )?(?:limit|allocation)|exceeded storage/i,
  },
  {
    cls: 'toolarge',
    re: /message (?:is )?too (?:large|big)|message size (?:exceeds|too large)|size (?:exceeds|limit exceeded)|exceeds? (?:the )?(?:maximum|max|fixed)? ?(?:message )?size|message length exceeds|message (?:file )?too long|is larger than the (?:maximum|limit)|mail size limit|MessageSizeExceeded|too large for/i,
  },
  {
    cls: 'suspended',
    re: /account (?:is |has been )?(?:disabled|suspended|deactivated|inactive|locked|expired)|mailbox (?:is )?(?:disabled|inactive|suspended|locked)|user(?:'s)? account (?:is )?(?:disabled|suspended|inactive)|recipient (?:address )?(?:is )?(?:disabled|inactive|suspended)|has been (?:disabled|suspended)|is not active|not (?:an )?active (?:user|mailbox|account)/i,
  },
  {
    cls: 'userunknown',
    re: /user ?unknown|unknown (?:user|recipient|mailbox|address|local[- ]?part|account)|no such (?:user|mailbox|recipient|address|account|person|local user)|(?:user|recipient|mailbox|address|account|e-?mail account)(?: name)?(?: that you tried to reach)? (?:does not|doesn't|did not) exist|does not exist|doesn'?t exist|(?:user|recipient|mailbox|address|addressee)(?: name)? (?:was )?not (?:found|recognized|known|listed)|invalid (?:recipient|mailbox|address|user)|not a valid (?:mailbox|user|recipient)|not a registered (?:gateway )?user|recipientnotfound|RecipNotFound|not our customer|no mailbox (?:here|by that name)|mailbox (?:not found|unavailable|name not allowed)|unrouteable address|bad destination mailbox|address (?:unknown|does not exist)|undeliverable address|no valid recipients|recipient unknown|unknown or illegal|not (?:a )?known user|we do not relay.{0,30}unknown|unknown in (?:local|virtual|relay) (?:recipient|mailbox|alias)|user (?:is )?not (?:here|local)|no longer (?:available|valid|with)|is not a valid|ResolverAdrRecipientNotFound|destination addresses were unknown|mailbox .{0,40}not (?:exist|found)|addressee unknown|not listed in|doesn'?t have an? .{0,60} account|user not exist|invalid (?:final )?delivery userid|(?:group|list) (?:you tried to contact )?(?:\([^)]*\) )?may not exist|not a member/i,
  },
  {
    cls: 'hostunknown',
    re: /host (?:or domain name )?not found|unknown host|host unknown|domain (?:does not exist|not found|name not found)|no mx (?:record|host)|no such domain|name or service not known|unrouteable (?:mail )?domain|nxdomain|mail for .{0,60} loops back|domain (?:is )?(?:invalid|unknown)|unknown domain|no route to host|could not be resolved|dns (?:lookup )?(?:error|failure|failed)|Host not found|MX (?:points|lookup)|Name service error|no SMTP service|domain is not reachable|could not find a gateway|unroutable|unable to route/i,
  },
  {
    cls: 'expired',
    re: /retry time(?:out)? (?:not reached|exceeded)|delivery time ?expired|message (?:timed out|expired)|could not be delivered (?:with)?in \d+|unable to deliver .{0,60}for \d+ (?:days|hours)|has been delayed.{0,80}(?:given up|will not)|time(?:d)? ?out (?:while|during)|queue(?:d)? too long|too long in (?:the )?queue|exceeded (?:the )?maximum (?:time|retry)|expired after|maximum time (?:in queue|limit)|RetryTimeExceeded|all hosts have been failing|envelope expired|delivery failed \d+ attempts|could not deliver for the last|after multiple retries|connection timed out|timed out/i,
  },
  {
    cls: 'norelaying',
    re: /relay(?:ing)? (?:access )?(?:denied|not (?:permitted|allowed))|not permitted to relay|unable to relay|we do not relay|relay not permitted|not allowed to relay|cannot relay|no relaying/i,
  },
  {
    cls: 'spam',
    re: /\bspam(?!haus|cop|rats)|junk mail|content (?:rejected|filter)|message content rejected|virus|malware|phish|bulk mail|suspicious content|message (?:was )?(?:considered|classified|identified|detected) as|looks like|blocked (?:due to|because of) (?:its )?content|UCE|unsolicited|message filtered/i,
  },
  {
    cls: 'blocked',
    re: /block ?list|black ?list|\bblocked|listed (?:at|in|on|by)|\brbl\b|\bdnsbl|spamhaus|spamcop|sorbs|barracuda|reputation|not allowed to send|connection (?:refused|rejected|denied)|access denied|client host .{0,80}rejected|reverse (?:dns|lookup|DNS)|\brdns|mismatches client ip|no PTR|PTR record|rejected (?:due to|because of) (?:your|the sender'?s?) (?:ip|address)|your (?:ip|address|server) (?:is|was|has been)|invalid ip|network not allowed|banned|refused to talk|service refused|too many (?:connections|errors)|rate limit|quota - |relay quota|throttl/i,
  },
  {
    cls: 'policy',
    re: /polic(?:y|ies)|dmarc|\bspf\b|dkim|not authori[sz]ed|authentication|unauthenticated|sender (?:address )?rejected|sender (?:is )?not (?:allowed|authorized)|administrative prohibition|prohibited|not accept(?:ed|ing)?|rejected by (?:the )?recipient|restricted|security|denied|not verified|too many recipients|protocol violation|improper use|hop count|too many hops|mail loop|header(?:s)? too (?:large|long)/i,
  },
  {
    cls: 'temporary',
    re: /try (?:again )?later|temporar(?:y|ily)|deferred|greylist|graylist|resources? (?:temporarily )?unavailable|service (?:is )?(?:currently )?unavailable|try again/i,
  },
];

/** Classes by enhanced status "subject.detail" (rfc3463), used when the text says nothing more specific. */
const STATUS_CLASSES: Record<string, BounceClass> = {
  '1.1': 'userunknown',
  '1.0': 'userunknown',
  '1.6': 'userunknown',
  '1.10': 'userunknown',
  '1.2': 'hostunknown',
  '2.1': 'suspended',
  '2.2': 'mailboxfull',
  '3.4': 'toolarge',
  '2.3': 'toolarge',
  '4.4': 'hostunknown',
  '4.7': 'expired',
  '7.1': 'policy',
  '7.26': 'policy',
  '7.25': 'blocked',
  '7.27': 'policy',
  '7.23': 'policy',
  '7.9': 'policy',
  '7.0': 'policy',
  '7.7': 'policy',
  '3.0': 'other',
};

export interface ClassifyInput {
  /** Enhanced status code, "5.1.1". */
  status?: string;
  smtpCode?: number;
  /** Diagnostic text (the remote reply, or the bounce's paragraph about this recipient). */
  text?: string;
  /** rfc3464 Action (lower-case). */
  action?: string;
}

/**
 * Classifies one failed recipient. Order: success actions; then the text rules (the remote's words
 * are more specific than codes, which providers use loosely); then the enhanced code; then the
 * code class (4 → temporary, 5 → other).
 */
export function classify(i: ClassifyInput): BounceClass {
  const action = i.action ?? '';
  if (action === 'delivered' || action === 'relayed' || action === 'expanded') return 'delivered';
  const text = (i.text ?? '').slice(0, 4000);
  const st = i.status && /^[245]\.\d{1,3}\.\d{1,3}$/.test(i.status) ? i.status : undefined;
  const sd = st ? st.slice(2) : undefined;
  // A few codes are unambiguous and override loose wording.
  if (sd === '1.1' || sd === '1.10') {
    if (!/block|black|listed|reputation|spam|relay|polic/i.test(text)) return 'userunknown';
  }
  if (sd === '2.2' && !/block|spam/i.test(text)) return 'mailboxfull';
  if (sd === '3.4') return 'toolarge';
  if (sd === '4.7') return 'expired';
  for (const r of TEXT_RULES) {
    if (r.re.test(text)) {
      if (r.cls === 'temporary' && st?.[0] === '5') continue;
      return r.cls;
    }
  }
  if (sd) {
    const c = STATUS_CLASSES[sd];
    if (c) return c;
    if (sd.startsWith('7.')) return 'policy';
  }
  if (action === 'delayed') return 'temporary';
  const cls = st?.[0] ?? (i.smtpCode ? String(i.smtpCode)[0] : undefined);
  if (cls === '4') return 'temporary';
  return 'other';
}

/** Whether a status means a permanent failure (class 5, or nothing known for a failed action). */
export function isPermanent(status: string | undefined, smtpCode: number | undefined, action?: string): boolean {
  const c = status?.[0] ?? (smtpCode ? String(smtpCode)[0] : undefined);
  if (c) return c === '5';
  return action !== 'delayed';
}

/** A representative enhanced status for a class, used when a bounce states no code at all. */
export function statusForClass(cls: BounceClass, permanent: boolean): string {
  const k = permanent ? '5' : '4';
  switch (cls) {
    case 'userunknown':
      return '5.1.1';
    case 'hostunknown':
      return '5.1.2';
    case 'suspended':
      return '5.2.1';
    case 'mailboxfull':
      return `${k}.2.2`;
    case 'toolarge':
      return '5.3.4';
    case 'norelaying':
      return '5.7.1';
    case 'spam':
    case 'blocked':
    case 'policy':
      return `${k}.7.1`;
    case 'expired':
      return '4.4.7';
    case 'temporary':
      return '4.0.0';
    case 'delivered':
      return '2.0.0';
    default:
      return `${k}.0.0`;
  }
}
