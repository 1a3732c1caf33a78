/** `moxts dsn parse FILE`: analyse a bounce, DSN or complaint and print the result as JSON. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { analyzeBounce, type BounceResult } from '../dsn/bounce.js';
import { UserError } from './context.js';

/** A JSON-friendly view: header objects become [name, value] pairs, raw field maps are dropped. */
export function bounceJSON(r: BounceResult): unknown {
  const out: Record<string, unknown> = { ...r };
  if (r.dsn) {
    const { returnedHeaders, recipients, ...rest } = r.dsn;
    out['dsn'] = {
      ...rest,
      recipients: recipients.map(({ fields: _fields, ...x }) => x),
      returnedHeaders: returnedHeaders?.fields.filter((f) => f.key).map((f) => [f.name, f.value]),
    };
  }
  return out;
}

export function registerDsn(program: Command): void {
  const dsn = program.command('dsn').description('delivery status notifications, bounces and complaints');
  dsn
    .command('parse')
    .argument('<file>', 'message file (.eml), or - for stdin')
    .description('analyse a bounce (RFC 3464 DSN or a non-standard MTA bounce) or complaint (RFC 5965 ARF) and print it as JSON')
    .action((file: string) => {
      let buf: Buffer;
      try {
        buf = readFileSync(file === '-' ? 0 : file);
      } catch (e) {
        throw new UserError(`reading ${file}: ${(e as Error).message}`);
      }
      process.stdout.write(JSON.stringify(bounceJSON(analyzeBounce(buf)), null, 2) + '\n');
    });
}
