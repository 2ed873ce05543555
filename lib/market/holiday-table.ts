/**
 * The NEPSE holiday table (nepse-holidays.json): read once when the module loads and checked, so a
 * bad edit of the file stops a service at start instead of skewing trading days quietly. Free of
 * Node APIs: the dashboard bundles it too.
 */
import table from './nepse-holidays.json' with { type: 'json' };

/** One closure: an ISO day and what it is. */
export interface Holiday {
  date: string;
  name: string;
}

/** The table as the calendar uses it. */
export interface HolidayTable {
  /** Closed days (ISO). */
  days: ReadonlySet<string>;
  holidays: readonly Holiday[];
  /** The last day (ISO) the table speaks for; later days are read as weekdays only. */
  coversThrough: string;
}

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `day` is a real calendar day written as YYYY-MM-DD. */
function isIsoDay(day: unknown): day is string {
  if (typeof day !== 'string' || !ISO_DAY.test(day)) return false;
  const parsed = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === day;
}

/**
 * Checks a holiday table as written in the JSON file: every date a real ISO day, in strictly
 * ascending order (so no day twice), every name given, `coversThrough` a real day on or after the
 * last holiday.
 * @returns the problems found, one sentence each; empty when the table is sound
 */
export function holidayTableProblems(raw: unknown): string[] {
  const problems: string[] = [];
  const data = raw as { coversThrough?: unknown; holidays?: unknown };
  if (!isIsoDay(data?.coversThrough)) problems.push(`coversThrough ${JSON.stringify(data?.coversThrough)} is not a YYYY-MM-DD day`);
  if (!Array.isArray(data?.holidays)) return [...problems, 'holidays is not a list'];
  let previous = '';
  data.holidays.forEach((entry: { date?: unknown; name?: unknown }, i: number) => {
    const at = `holidays[${i}]`;
    if (!isIsoDay(entry?.date)) return problems.push(`${at}.date ${JSON.stringify(entry?.date)} is not a real YYYY-MM-DD day`);
    if (typeof entry.name !== 'string' || entry.name.trim() === '') problems.push(`${at}.name is empty (${entry.date})`);
    if (entry.date === previous) problems.push(`${at}.date ${entry.date} is listed twice`);
    else if (entry.date < previous) problems.push(`${at}.date ${entry.date} comes after ${previous}: keep the table in date order`);
    if (isIsoDay(data.coversThrough) && entry.date > data.coversThrough)
      problems.push(`${at}.date ${entry.date} is after coversThrough ${data.coversThrough}`);
    previous = entry.date;
  });
  return problems;
}

/** @throws Error listing every problem of a table that is not sound. */
export function parseHolidayTable(raw: unknown): HolidayTable {
  const problems = holidayTableProblems(raw);
  if (problems.length > 0) throw new Error(`lib/market/nepse-holidays.json: ${problems.join('; ')}`);
  const data = raw as { coversThrough: string; holidays: Holiday[] };
  const holidays = data.holidays.map(({ date, name }) => ({ date, name }));
  return { days: new Set(holidays.map((h) => h.date)), holidays, coversThrough: data.coversThrough };
}

/** The shipped table, read and checked once. */
export const NEPSE_HOLIDAYS: HolidayTable = parseHolidayTable(table);
