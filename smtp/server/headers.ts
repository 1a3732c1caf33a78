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
  let h = `${fromBy(i)}${i.id}`;
  if (i.forAddress) h += `\r\n\tfor <${clean(formatAddress(i.forAddress))}>`;
  if (i.tls) h += `\r\n\ttls ${clean(i.tls.cipher)} (${clean(i.tls.version)})`;
  return `${h}; ${dateOf(i.date)}\r\n`;
}

/** The last "Received: from … by … with … id " text made, and what it was made of. */
let lastFromBy: { helo?: string; remoteHost?: string; remoteIP: string; hostname: string; protocol: string; text: string } | undefined;

/**
 * The start of a Received header up to its id: the same for every message of a connection (and
 * of a sending host), so the last one is reused when its inputs are equal.
 */
function fromBy(i: ReceivedInput): string {
  const protocol = withProtocol(i);
  const l = lastFromBy;
  if (l && l.helo === i.helo && l.remoteHost === i.remoteHost && l.remoteIP === i.remoteIP && l.hostname === i.hostname && l.protocol === protocol) return l.text;
  const ipLiteral = i.remoteIP.includes(':') ? `[IPv6:${i.remoteIP}]` : `[${i.remoteIP}]`;
  const text = `Received: from ${clean(i.helo ?? 'unknown')} (${clean(i.remoteHost ?? 'unknown')} ${ipLiteral})\r\n\tby ${i.hostname} with ${protocol} id `;
  lastFromBy = { helo: i.helo, remoteHost: i.remoteHost, remoteIP: i.remoteIP, hostname: i.hostname, protocol, text };
  return text;
}

/** The last date formatted, by its second: messages received in the same second share it. */
let lastDate: { second: number; text: string } | undefined;

function dateOf(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (lastDate?.second === second) return lastDate.text;
  const text = formatRfc5322Date(d);
  lastDate = { second, text };
  return text;
}

export function returnPathHeader(mailFrom: SmtpAddress | undefined): string {
  return `Return-Path: <${mailFrom ? clean(formatAddress(mailFrom)) : ''}>\r\n`;
}
