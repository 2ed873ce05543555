/**
 * Looks after lib/market/nepse-holidays.json, the days NEPSE is closed.
 *
 *   node --import tsx scripts/holidays.ts check   # exits 1 when the table is unsound or has run out
 *   node --import tsx scripts/holidays.ts list    # the table, one holiday a line
 *
 * To refresh it, add the coming year's closures from NEPSE's holiday notices in date order, move
 * `coversThrough` to that year's last day, and run `check`. It warns (still exit 0) when fewer
 * than REFRESH_DAYS days are left, the time to add next year.
 */
import { readFileSync } from 'node:fs';
import { holidayTableProblems } from '../lib/market/holiday-table.js';

/** Days before the table's end from which `check` asks for a refresh. */
const REFRESH_DAYS = 60;
const DAY_MS = 86_400_000;
const FILE = new URL('../lib/market/nepse-holidays.json', import.meta.url);

const command = process.argv[2] ?? 'check';
const raw = JSON.parse(readFileSync(FILE, 'utf8')) as { coversThrough: string; holidays: Array<{ date: string; name: string }> };

if (command === 'list') {
  for (const { date, name } of raw.holidays) console.log(`${date}  ${name}`);
  console.log(`covers through ${raw.coversThrough}`);
} else if (command === 'check') {
  const problems = holidayTableProblems(raw);
  for (const problem of problems) console.error(`nepse-holidays.json: ${problem}`);
  if (problems.length > 0) process.exit(1);
  // Nepal is UTC+05:45 all year.
  const today = new Date(Date.now() + (5 * 60 + 45) * 60_000).toISOString().slice(0, 10);
  const left = Math.round((Date.parse(`${raw.coversThrough}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / DAY_MS);
  const years = [...new Set(raw.holidays.map((h) => h.date.slice(0, 4)))];
  console.log(
    `${raw.holidays.length} holidays, ${years[0]}–${years.at(-1)}, covering through ${raw.coversThrough} (${left} days from today in Nepal, ${today})`,
  );
  if (left < 0) {
    console.error(`the table has run out: weekdays after ${raw.coversThrough} count as sessions; add the coming year's holidays`);
    process.exit(1);
  }
  if (left < REFRESH_DAYS) console.warn(`fewer than ${REFRESH_DAYS} days left: add the coming year's holidays`);
} else {
  console.error(`usage: node --import tsx scripts/holidays.ts check|list (unknown command ${command})`);
  process.exit(2);
}
