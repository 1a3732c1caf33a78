/**
 * The Prometheus metrics of moxts (prom-client). One `Metrics` object is made per server and
 * passed to the services that count things; nothing registers metrics at import time, so tests
 * can run several servers in one process. Names follow `moxts_<area>_<thing>_total`.
 */
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  readonly smtpConnections = new Counter({
    name: 'moxts_smtp_connections_total',
    help: 'SMTP connections by service (smtp, submission, submissions) and result (accepted, ratelimited, toomany).',
    labelNames: ['service', 'result'] as const,
    registers: [this.registry],
  });
  readonly smtpMessages = new Counter({
    name: 'moxts_smtp_messages_total',
    help: 'Messages received over SMTP by service and result (accepted, or the refusal reason).',
    labelNames: ['service', 'result'] as const,
    registers: [this.registry],
  });
  readonly smtpRecipients = new Counter({
    name: 'moxts_smtp_recipients_total',
    help: 'RCPT TO commands by service and result (accepted, or the refusal reason).',
    labelNames: ['service', 'result'] as const,
    registers: [this.registry],
  });
  readonly smtpDeliveryDuration = new Histogram({
    name: 'moxts_smtp_delivery_duration_seconds',
    help: 'Time from end of DATA to the final reply (verification, parsing, durable storage).',
    labelNames: ['service'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly smtpSessions = new Gauge({
    name: 'moxts_smtp_sessions',
    help: 'Open SMTP sessions by service.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });

  readonly imapConnections = new Counter({
    name: 'moxts_imap_connections_total',
    help: 'IMAP connections by service (imap, imaps) and result (accepted, refused).',
    labelNames: ['service', 'result'] as const,
    registers: [this.registry],
  });
  readonly imapCommands = new Counter({
    name: 'moxts_imap_commands_total',
    help: 'IMAP commands by name and result (ok, no, bad).',
    labelNames: ['command', 'result'] as const,
    registers: [this.registry],
  });
  readonly imapCommandDuration = new Histogram({
    name: 'moxts_imap_command_duration_seconds',
    help: 'Time to execute an IMAP command, by name (IDLE and AUTHENTICATE include client time).',
    labelNames: ['command'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly webapiResults = new Counter({
    name: 'moxts_webapi_results_total',
    help: 'Webapi calls by method and result (ok, badauth, ratelimited, or the error code).',
    labelNames: ['method', 'result'] as const,
    registers: [this.registry],
  });
  readonly webapiDuration = new Histogram({
    name: 'moxts_webapi_duration_seconds',
    help: 'Webapi call duration by method, from authentication to the response.',
    labelNames: ['method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'moxts_' });
  }

  /** The exposition text for GET /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
