/**
 * Trace headers added to incoming messages: Received (rfc5321:4.4, with the "tls" clause of
 * rfc8314:4.3 and protocol types of rfc3848 / rfc6531:3.7.3) and Return-Path (rfc5321:4.4).
 */
import { formatRfc5322Date } from '../../message/date.js';
import { formatAddress, type SmtpAddress } from '../parse.js';

export interface ReceivedInput {
  helo: string | undefined;
  esmtp: boolean;
  remoteIP: string;
  /** Reverse DNS name of remoteIP, if it resolved. */
  remoteHost?: string;
  hostname: string;
  tls?: { version: string; cipher: string };
  authenticated: boolean;
  smtputf8: boolean;
  id: string;
  /** The recipient, included only when there is exactly one (privacy for multi-recipient mail). */
  forAddress?: SmtpAddress;
  date: Date;
}

/** rfc3848 (+ rfc6531:3.7.3) "with" protocol: ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP, UTF8SMTPS, ... */
export function withProtocol(i: Pick<ReceivedInput, 'esmtp' | 'tls' | 'authenticated' | 'smtputf8'>): string {
  if (!i.esmtp) return 'SMTP';
  return `${i.smtputf8 ? 'UTF8SMTP' : 'ESMTP'}${i.tls ? 'S' : ''}${i.authenticated ? 'A' : ''}`;
}

/** Header values must not carry CR/LF or control characters from the client. */
function clean(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 255);
}

export function receivedHeader(i: ReceivedInput): string {
  const ipLiteral = i.remoteIP.includes(':') ? `[IPv6:${i.remoteIP}]` : `[${i.remoteIP}]`;
  const lines = [`Received: from ${clean(i.helo ?? 'unknown')} (${clean(i.remoteHost ?? 'unknown')} ${ipLiteral})`];
  lines.push(`\tby ${i.hostname} with ${withProtocol(i)} id ${i.id}`);
  if (i.forAddress) lines.push(`\tfor <${clean(formatAddress(i.forAddress))}>`);
  if (i.tls) lines.push(`\ttls ${clean(i.tls.cipher)} (${clean(i.tls.version)})`);
  lines[lines.length - 1] += `; ${formatRfc5322Date(i.date)}`;
  return lines.join('\r\n') + '\r\n';
}

export function returnPathHeader(mailFrom: SmtpAddress | undefined): string {
  return `Return-Path: <${mailFrom ? clean(formatAddress(mailFrom)) : ''}>\r\n`;
}
