/** Timing and printing helpers of the benchmarks. */

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
