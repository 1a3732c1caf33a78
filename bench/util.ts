/** Helpers shared by the benchmarks: command-line options and a child process's CPU time. */
import { readFileSync, readdirSync } from 'node:fs';

/** The value after `--<name>` in args, else def. */
export function arg(args: string[], name: string, def: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
}

/** CPU seconds (user + system, all threads) used so far by a process; undefined where /proc is missing. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) of proc(5), counted from 1; we dropped the first two.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds per thread of a process (Linux /proc/<pid>/task), keyed by thread id, with the
 * thread's nice value (the full-text indexer worker runs at 19): for a breakdown of where a
 * server's CPU goes. Empty where /proc is missing.
 */
export function threadCpuSeconds(pid: number | undefined): Map<number, { cpu: number; sys: number; nice: number; name: string }> {
  const out = new Map<number, { cpu: number; sys: number; nice: number; name: string }>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      // utime, stime, nice: fields 14, 15, 19 of proc(5), counted from 1; we dropped the first two.
      const name = f.slice(f.indexOf('(') + 1, f.lastIndexOf(')'));
      out.set(Number(t), { cpu: (Number(fields[11]) + Number(fields[12])) / 100, sys: Number(fields[12]) / 100, nice: Number(fields[16]), name });
    } catch {
      // thread exited
    }
  }
  return out;
}

/**
 * Where a process's CPU went between two threadCpuSeconds snapshots, in ms per `count`:
 * "main" (the thread whose id is the pid), "nice19" (low-priority workers: the full-text indexer),
 * "other" (V8 GC/compiler helpers, libuv's pool doing fsyncs, other workers).
 */
export function threadBreakdown(
  pid: number,
  a: Map<number, { cpu: number; sys: number; nice: number; name?: string }>,
  b: Map<number, { cpu: number; sys: number; nice: number; name?: string }>,
  count: number,
): string {
  let main = 0;
  let mainSys = 0;
  let nice = 0;
  let other = 0;
  let otherSys = 0;
  const byName = new Map<string, number>();
  for (const [tid, v] of b) {
    const d = v.cpu - (a.get(tid)?.cpu ?? 0);
    if (tid === pid) {
      main += d;
      mainSys += v.sys - (a.get(tid)?.sys ?? 0);
    } else if (v.nice >= 19) nice += d;
    else {
      other += d;
      otherSys += v.sys - (a.get(tid)?.sys ?? 0);
      const n = `${v.name ?? '?'}/${tid - pid}`;
      byName.set(n, (byName.get(n) ?? 0) + d);
    }
  }
  const ms = (x: number) => ((x * 1000) / count).toFixed(3);
  // Other threads by name/(tid - pid), in start order: V8 platform helpers first, then libuv's pool and worker threads.
  const names = [...byName].filter(([, d]) => d > 0).sort((x, y) => y[1] - x[1]).map(([n, d]) => `${n} ${ms(d)}`).join(', ');
  return `main ${ms(main)} (system ${ms(mainSys)}), indexer ${ms(nice)}, other threads ${ms(other)} (system ${ms(otherSys)}) ms/msg${names ? ` [${names}]` : ''}`;
}
