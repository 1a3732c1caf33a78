/**
 * Hypervisor steal time (Linux /proc/stat): the share of the machine's CPU time that the host
 * gave to other guests while the benchmark ran. On this VM it explains most of the spread between
 * otherwise quiet runs (webhooks: 650 vs 2,105 deliveries/s with one URL at steal 38% vs 3%), so the
 * benchmarks print it with their figures.
 */
import { readFileSync } from 'node:fs';

export interface CpuTimes {
  total: number;
  steal: number;
}

/** The aggregate "cpu" line of /proc/stat; zeros where it is missing. */
export function cpuTimes(): CpuTimes {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest times are included in user/nice).
    return { total: v.slice(0, 8).reduce((a, b) => a + b, 0), steal: v[7] ?? 0 };
  } catch {
    return { total: 0, steal: 0 };
  }
}

/** Steal between two snapshots, as a percentage of all CPU time ("-" without /proc). */
export function stealPercent(a: CpuTimes, b: CpuTimes): string {
  const t = b.total - a.total;
  return t > 0 ? `${((100 * (b.steal - a.steal)) / t).toFixed(1)}%` : '-';
}
