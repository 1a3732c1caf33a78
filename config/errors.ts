/** ConfigError: a refused config, with every problem located by file, line and key path. */

export interface ConfigIssue {
  /** File name as given to the loader. */
  file: string;
  /** 1-based line, when the key could be located in the file. */
  line?: number;
  /** 1-based column (set for YAML syntax errors). */
  col?: number;
  /** Key path, e.g. "Listeners.public.SMTP.Port" or "Accounts.mjl.Routes[0].Transport"; "" for the document. */
  path: string;
  message: string;
}

/** Render one issue as "file:line[:col]: key.path: message". */
export function formatIssue(i: ConfigIssue): string {
  let where = i.file;
  if (i.line !== undefined) where += `:${i.line}`;
  if (i.line !== undefined && i.col !== undefined) where += `:${i.col}`;
  return `${where}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    const sorted = [...issues].sort(
      (a, b) => (a.file === b.file ? 0 : a.file < b.file ? -1 : 1) || (a.line ?? 0) - (b.line ?? 0),
    );
    super(sorted.map(formatIssue).join('\n') || 'invalid config');
    this.issues = sorted;
  }
}

/** Format a key path: segments joined by ".", array indices as "[n]". */
export function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else s += (s === '' ? '' : '.') + String(seg);
  }
  return s;
}
