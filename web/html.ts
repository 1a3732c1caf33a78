/**
 * HTML built with a tagged template that escapes every interpolated value: `html\`<td>${subject}</td>\``
 * can never inject markup, whatever the subject contains. Only values that are themselves
 * SafeHtml (the result of `html`, or `raw` for trusted constants) are inserted as markup. Arrays
 * are concatenated (each element by the same rule); null, undefined and false render as nothing.
 */

export class SafeHtml {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

export type HtmlValue = SafeHtml | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for element content and quoted attribute values. */
export function escapeText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Render one value: SafeHtml as is, everything else escaped. */
export function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.html;
  if (Array.isArray(v)) return (v as readonly HtmlValue[]).map(render).join('');
  return escapeText(String(v));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Trusted markup (constants written in our code); never pass user-controlled text. */
export function raw(s: string): SafeHtml {
  return new SafeHtml(s);
}
