// The FETCH attribute AST (rfc9051:6.4.5 and 9 "fetch-att", rfc3501:6.4.5, rfc3516 BINARY,
// rfc7162:3.1.4 MODSEQ, rfc8970 PREVIEW, rfc8514 SAVEDATE). The command parser (imap/protocol/)
// fills these; imap/fetch/ renders them. Plain data, no behaviour except the macro expansion.

/**
 * A section-spec (rfc9051:9 "section-spec"), e.g. BODY[1.2.HEADER.FIELDS (From To)].
 * - `part`: the part path, [] for the top-level message ("BODY[]", "BODY[HEADER]").
 * - `text`: what of that part; absent means the whole part (or the whole message for part []).
 *   'MIME' is only valid with a non-empty part path (rfc9051:6.4.5); the parser should refuse
 *   "BODY[MIME]" with BAD, the renderer answers NIL if it gets it anyway.
 * - `fields`: the header field names of HEADER.FIELDS / HEADER.FIELDS.NOT, as the client sent
 *   them (matching is case-insensitive; the response echoes them as sent).
 */
export interface Section {
  part: number[];
  text?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  fields?: string[];
}

/** A partial range "<offset.count>" (rfc9051:6.4.5): `count` bytes starting at `offset`. */
export interface PartialRange {
  offset: number;
  count: number;
}

/** One FETCH attribute. Names follow the protocol words. */
export type FetchAtt =
  | { kind: 'UID' }
  | { kind: 'FLAGS' }
  | { kind: 'INTERNALDATE' }
  | { kind: 'RFC822.SIZE' }
  /** Same as BODY[]; sets \Seen (rev1 only in rfc9051, still accepted). */
  | { kind: 'RFC822' }
  /** Same as BODY.PEEK[HEADER], named RFC822.HEADER in the response. */
  | { kind: 'RFC822.HEADER' }
  /** Same as BODY[TEXT], named RFC822.TEXT in the response; sets \Seen. */
  | { kind: 'RFC822.TEXT' }
  | { kind: 'ENVELOPE' }
  /** BODYSTRUCTURE without extension data ("BODY" without a section). */
  | { kind: 'BODY' }
  | { kind: 'BODYSTRUCTURE' }
  /**
   * BODY[section]<partial> and BODY.PEEK[...]: the bytes of a section. Without peek, \Seen is set
   * (rfc9051:6.4.5) by the command, not by the renderer.
   */
  | { kind: 'BODY[]'; section: Section; partial?: PartialRange; peek: boolean }
  /** rfc3516 BINARY[part]<partial> / BINARY.PEEK[part]: the part's body, transfer-decoded. */
  | { kind: 'BINARY[]'; part: number[]; partial?: PartialRange; peek: boolean }
  /** rfc3516 BINARY.SIZE[part]: the decoded size. */
  | { kind: 'BINARY.SIZE'; part: number[] }
  /** rfc7162:3.1.4 (CONDSTORE). */
  | { kind: 'MODSEQ' }
  /** rfc8970 PREVIEW; `lazy` is the (LAZY) modifier (we always compute it, so it is ignored). */
  | { kind: 'PREVIEW'; lazy?: boolean }
  /** rfc8514 SAVEDATE: when the message was saved into this mailbox (we answer INTERNALDATE). */
  | { kind: 'SAVEDATE' };

export type FetchKind = FetchAtt['kind'];

/** The fetch macros of rfc9051:6.4.5 (rfc3501 same). */
export type FetchMacro = 'ALL' | 'FAST' | 'FULL';

/** Expands a macro into its attributes (rfc9051:6.4.5). */
export function expandFetchMacro(m: FetchMacro): FetchAtt[] {
  const fast: FetchAtt[] = [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }];
  if (m === 'FAST') return fast;
  if (m === 'ALL') return [...fast, { kind: 'ENVELOPE' }];
  return [...fast, { kind: 'ENVELOPE' }, { kind: 'BODY' }];
}

/** Whether fetching these attributes sets \Seen (non-peek body sections, RFC822, RFC822.TEXT). */
export function fetchSetsSeen(atts: readonly FetchAtt[]): boolean {
  return atts.some((a) => a.kind === 'RFC822' || a.kind === 'RFC822.TEXT' || ((a.kind === 'BODY[]' || a.kind === 'BINARY[]') && !a.peek));
}

/**
 * Whether rendering the attributes needs the message's parse tree (store Message.parsed, the heavy
 * column): ENVELOPE/BODYSTRUCTURE come preformatted, whole-message reads need only the size.
 */
export function fetchNeedsParsed(atts: readonly FetchAtt[]): boolean {
  for (const a of atts) {
    switch (a.kind) {
      case 'BODY':
      case 'RFC822.HEADER':
      case 'RFC822.TEXT':
      case 'PREVIEW':
        return true;
      case 'BODY[]':
        if (a.section.part.length || a.section.text) return true;
        break;
      case 'BINARY[]':
      case 'BINARY.SIZE':
        if (a.part.length) return true;
        break;
    }
  }
  return false;
}
