import { test } from 'node:test';
import assert from 'node:assert/strict';
import { C, E, SmtpError, enhancedCode, parseReplyCodes } from './codes.js';

test('enhanced codes take their class from the reply code', () => {
  assert.equal(enhancedCode(C.MailboxUnavailable, E.BadDestMailbox), '5.1.1');
  assert.equal(enhancedCode(C.MailboxUnavailableTemp, E.MailboxDisabled), '4.2.1');
  assert.equal(enhancedCode(C.Completed, E.Other), '2.0.0');
  assert.equal(enhancedCode(C.StartMailInput, E.Other), undefined);
  assert.equal(enhancedCode(C.ServiceNotAvailable, '4.7.0'), '4.7.0', 'a full code is not prefixed twice');
  assert.equal(enhancedCode(C.MailboxUnavailable, '4.1.1'), '5.1.1', 'class follows the reply code');
});

test('SmtpError renders the reply line', () => {
  const e = new SmtpError(C.ExceededStorage, E.MsgTooBig, 'message too big');
  assert.equal(e.replyText, '552 5.3.4 message too big');
  assert.equal(new SmtpError(C.InsufficientStorage, E.MailboxFull, 'full').replyText, '452 4.2.2 full');
});

test('parseReplyCodes reads code and enhanced code from remote replies', () => {
  assert.deepEqual(parseReplyCodes('550 5.1.1 <x@y>: user unknown'), { code: 550, enhanced: '5.1.1', message: '<x@y>: user unknown' });
  assert.deepEqual(parseReplyCodes('451 try later'), { code: 451, enhanced: undefined, message: 'try later' });
  assert.deepEqual(parseReplyCodes('250-5.0.0 ok'), { code: 250, enhanced: '5.0.0', message: 'ok' });
  assert.deepEqual(parseReplyCodes('garbage'), { message: 'garbage' });
});
