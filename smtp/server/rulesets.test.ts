import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseMailbox, rulesetMatches, type RulesetInput } from './rulesets.js';
import type { Ruleset } from '../../config/dynamic-schema.js';

const msg: RulesetInput = {
  mailFrom: 'bounces+123@lists.example.org',
  msgFrom: 'Announce@Lists.Example.org',
  verifiedDomains: ['lists.example.org'],
  headers: [
    ['list-id', 'Announcements <announce.lists.example.org>'],
    ['subject', '[announce] release 1.0'],
  ],
};
const rs = (r: Partial<Ruleset>): Ruleset => ({ IsForward: false, Mailbox: 'X', ...r }) as Ruleset;

test('each matcher, case-insensitive; all must match', () => {
  assert.ok(rulesetMatches(rs({ SMTPMailFromRegexp: '^bounces\\+.*@lists\\.example\\.org$' }), msg));
  assert.ok(rulesetMatches(rs({ MsgFromRegexp: '^announce@lists\\.example\\.org$' }), msg));
  assert.ok(rulesetMatches(rs({ VerifiedDomain: 'example.org' }), msg), 'a parent of a verified domain');
  assert.equal(rulesetMatches(rs({ VerifiedDomain: 'other.example.org' }), msg), false);
  assert.ok(rulesetMatches(rs({ HeadersRegexp: { '^list-id$': 'announce\\.lists\\.example\\.org' } }), msg));
  assert.equal(rulesetMatches(rs({ HeadersRegexp: { '^list-id$': 'other' } }), msg), false);
  assert.equal(rulesetMatches(rs({ MsgFromRegexp: 'announce', VerifiedDomain: 'evil.example' }), msg), false, 'every matcher must match');
});

test('first matching ruleset wins, else the default mailbox', () => {
  const rules = [rs({ MsgFromRegexp: 'nomatch', Mailbox: 'A' }), rs({ HeadersRegexp: { 'list-id': 'lists\\.example\\.org' }, Mailbox: 'Lists/Announce' }), rs({ VerifiedDomain: 'example.org', Mailbox: 'B' })];
  assert.equal(chooseMailbox(rules, 'Inbox', msg), 'Lists/Announce');
  assert.equal(chooseMailbox(rules, 'Inbox', { ...msg, headers: [], verifiedDomains: [] }), 'Inbox');
  assert.equal(chooseMailbox(undefined, 'Inbox', msg), 'Inbox');
});
