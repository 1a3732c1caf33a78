/**
 * Small building blocks of the admin and account pages (tables, forms, buttons, times). All
 * text goes through web/html.ts escaping; a POST form always carries the session's CSRF field.
 */
import { html, type HtmlValue, type SafeHtml } from './html.js';
import type { UiRequest } from './ui.js';

/** A table; `empty` is shown instead when there are no rows. */
export function table(headers: readonly HtmlValue[], rows: readonly (readonly HtmlValue[])[], empty: HtmlValue = 'None.'): SafeHtml {
  if (!rows.length) return html`<p class="muted">${empty}</p>`;
  return html`<div class="table-wrap"><table><thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead><tbody>${rows.map(
    (r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`,
  )}</tbody></table></div>`;
}

/** Label/value pairs. */
export function kv(pairs: ReadonlyArray<readonly [HtmlValue, HtmlValue]>): SafeHtml {
  return html`<dl class="kv">${pairs.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

/** A one-button form posting hidden fields to `action` (below the service prefix). */
export function postButton(r: Pick<UiRequest, 'base' | 'csrf'>, action: string, label: string, hidden: Record<string, string | number> = {}, o: { danger?: boolean; secondary?: boolean } = {}): SafeHtml {
  const cls = o.danger ? html` class="danger"` : o.secondary ? html` class="secondary"` : '';
  return html`<form method="post" action="${r.base}${action}" class="inline">${r.csrf}${Object.entries(hidden).map(
    ([k, v]) => html`<input type="hidden" name="${k}" value="${String(v)}">`,
  )}<button type="submit"${cls}>${label}</button></form>`;
}

/** A POST form (class "stack": one field per line; "row": fields side by side). */
export function postForm(r: Pick<UiRequest, 'base' | 'csrf'>, action: string, content: HtmlValue, o: { layout?: 'stack' | 'row'; submit?: string; label?: string } = {}): SafeHtml {
  return html`<form method="post" action="${r.base}${action}" class="${o.layout ?? 'stack'}"${o.label ? html` aria-label="${o.label}"` : ''}>${r.csrf}${content}${
    o.submit ? html`<div><button type="submit">${o.submit}</button></div>` : ''
  }</form>`;
}

/** A GET form (filters). */
export function getForm(action: string, content: HtmlValue, submit = 'Filter'): SafeHtml {
  return html`<form method="get" action="${action}" class="row">${content}<div><button type="submit" class="secondary">${submit}</button></div></form>`;
}

export function input(label: HtmlValue, name: string, o: { value?: string | number; type?: string; required?: boolean; placeholder?: string; autocomplete?: string; size?: number } = {}): SafeHtml {
  return html`<label>${label} <input name="${name}" type="${o.type ?? 'text'}"${o.value !== undefined ? html` value="${String(o.value)}"` : ''}${o.required ? html` required` : ''}${
    o.placeholder ? html` placeholder="${o.placeholder}"` : ''
  }${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ''}${o.size ? html` size="${o.size}"` : ''}></label>`;
}

export function textarea(label: HtmlValue, name: string, value = '', rows = 4): SafeHtml {
  return html`<label>${label} <textarea name="${name}" rows="${rows}">${value}</textarea></label>`;
}

export function select(label: HtmlValue, name: string, options: ReadonlyArray<readonly [string, string]>, selected?: string): SafeHtml {
  return html`<label>${label} <select name="${name}">${options.map(([v, l]) => html`<option value="${v}"${v === selected ? html` selected` : ''}>${l}</option>`)}</select></label>`;
}

export function checkbox(label: HtmlValue, name: string, checked = false, value = '1'): SafeHtml {
  return html`<label class="check"><input type="checkbox" name="${name}" value="${value}"${checked ? html` checked` : ''}> ${label}</label>`;
}

/** A time as "2026-11-21 18:04:05Z" in a <time> element; "" for none. */
export function time(t: number | Date | string | null | undefined): SafeHtml {
  if (t === null || t === undefined || t === '') return html``;
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return html`${String(t)}`;
  const iso = d.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')}Z</time>`;
}
