/** Small zod building blocks shared by the mox.conf and domains.conf schemas. */
import * as z from 'zod';
import { parseDuration } from './duration.js';

/**
 * A Go-style duration string ("72h", "7.5m", "1h30m", "15s") that parses to milliseconds.
 * The schema input is a string, the output a non-negative number of milliseconds.
 */
export function duration() {
  return z
    .string()
    .transform((s, ctx) => {
      try {
        const ms = parseDuration(s);
        if (ms < 0) {
          ctx.addIssue({ code: 'custom', message: `duration must not be negative, got ${JSON.stringify(s)}` });
          return z.NEVER;
        }
        return ms;
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    })
    .meta({ format: 'duration' });
}

/** TCP port; 0 lets the OS pick a free port (useful in tests). */
export function port() {
  return z.number().int().min(0).max(65535);
}

/** Strings that must compile as a JavaScript regular expression (mox uses Go RE2 syntax; the common subset is the same). */
export function regexp() {
  return z.string().superRefine((s, ctx) => {
    try {
      new RegExp(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `invalid regular expression ${JSON.stringify(s)}: ${(e as Error).message}` });
    }
  });
}

/** A map from a user-chosen name to a value; names must be non-empty. */
export function named<T extends z.ZodType>(value: T) {
  return z.record(z.string().min(1), value);
}

/** Recursively readonly view of a config type; loaded configs are deep-frozen at run time too. */
export type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends Function
    ? T
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;
