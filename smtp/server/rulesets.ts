/**
 * Destination rulesets (domains.conf Accounts.*.Destinations.*.Rulesets, as mox): the first
 * ruleset whose matchers all match picks the mailbox; otherwise the destination's Mailbox.
 * Matchers: SMTPMailFromRegexp (the envelope sender), MsgFromRegexp (the From address),
 * VerifiedDomain (the domain or a parent verified by SPF or DKIM), HeadersRegexp (for each entry,
 * some header whose lower-cased name matches the key has a value matching the value). Regexps are
 * case-insensitive. ListAllowDomain, IsForward and AcceptRejectsToMailbox concern junk filtering,
 * which moxts does not have yet; they do not affect the choice of mailbox.
 */
import type { Ruleset } from '../../config/dynamic-schema.js';

export interface RulesetInput {
  /** Envelope sender, "" for the null reverse path. */
  mailFrom: string;
  /** Address of the message's From header, "" when absent. */
  msgFrom: string;
  /** Domains verified by SPF (MAIL FROM/HELO with pass) and DKIM (d= of passing signatures), lower-case. */
  verifiedDomains: readonly string[];
  /** Header fields as (lower-case name, unfolded value). */
  headers: ReadonlyArray<readonly [string, string]>;
}

const cache = new Map<string, RegExp>();
function re(s: string): RegExp {
  let r = cache.get(s);
  if (!r) {
    r = new RegExp(s, 'i');
    if (cache.size > 1000) cache.clear(); // patterns come from the config: bounded in practice
    cache.set(s, r);
  }
  return r;
}

function domainVerified(want: string, verified: readonly string[]): boolean {
  const w = want.toLowerCase().replace(/\.$/, '');
  return verified.some((d) => d === w || d.endsWith(`.${w}`));
}

export function rulesetMatches(r: Ruleset, m: RulesetInput): boolean {
  if (r.SMTPMailFromRegexp !== undefined && !re(r.SMTPMailFromRegexp).test(m.mailFrom)) return false;
  if (r.MsgFromRegexp !== undefined && !re(r.MsgFromRegexp).test(m.msgFrom)) return false;
  if (r.VerifiedDomain !== undefined && !domainVerified(r.VerifiedDomain, m.verifiedDomains)) return false;
  for (const [k, v] of Object.entries(r.HeadersRegexp ?? {})) {
    if (!m.headers.some(([name, value]) => re(k).test(name) && re(v).test(value))) return false;
  }
  return true;
}

/** The mailbox for a message: the first matching ruleset's, else the default. */
export function chooseMailbox(rulesets: readonly Ruleset[] | undefined, defaultMailbox: string, m: RulesetInput): string {
  for (const r of rulesets ?? []) if (rulesetMatches(r, m)) return r.Mailbox;
  return defaultMailbox;
}
