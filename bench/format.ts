/** Timing, CPU and printing helpers of the benchmarks. */
import { readFileSync } from 'node:fs';

/** Seconds since `start` (a performance.now() reading). */
export const secondsSince = (start: number) => (performance.now() - start) / 1000;

/** Formats a rate with thousands separators. */
export const rate = (n: number) => Math.round(n).toLocaleString('en-US');

/** Prints rows as an aligned table under a title. */
export function printTable(title: string, rows: (string | number)[][]): void {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  console.log(`\n${title}`);
  for (const [index, row] of cells.entries()) {
    console.log('  ' + row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   '));
    if (index === 0) console.log('  ' + widths.map((w) => '-'.repeat(w)).join('   '));
  }
}

/** User + system CPU time of process `pid`, in seconds, from /proc (Linux USER_HZ is 100); NaN without /proc. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ".
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * Waits until process `pid` has been nearly idle (under `belowPercent` of a core) for a second,
 * so background work such as ClickHouse merges after a bulk load does not skew a latency run.
 * Gives up after `timeoutMs` and reports whether it settled.
 */
export async function waitForIdle(pid: number, belowPercent = 5, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const before = processCpuSeconds(pid);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const used = processCpuSeconds(pid) - before;
    if (Number.isNaN(used)) return false;
    if (used * 100 < belowPercent) return true;
  }
  return false;
}
