/**
 * NEPSE's session calendar: sessions run Sunday to Thursday, closed on the main public holidays,
 * in Asia/Kathmandu (UTC+05:45 all year; Nepal has no daylight saving).
 */
import { NEPSE_HOLIDAYS } from './holiday-table.js';

/** Nepal's offset from UTC, in milliseconds. */
export const NEPAL_OFFSET_MS = (5 * 60 + 45) * 60_000;
const DAY_MS = 86_400_000;

/**
 * Closed days come from nepse-holidays.json, which speaks for days up to its `coversThrough`. A
 * day after that is read as a trading day whenever it is a weekday (Sunday to Thursday): a
 * forecast keeps going rather than failing, at the cost of counting an unlisted holiday as a
 * session. The first such day is reported once to the listeners (services log it and raise
 * `nepse_calendar_past_holiday_table`), so the table gets refreshed.
 */
const PAST_END_LISTENERS = new Set<(day: string, coversThrough: string) => void>();
let firstDayPastTable: string | undefined;

/** Whether NEPSE holds a session on an ISO day: Sunday to Thursday, not a known public holiday. */
export function isTradingDay(day: string): boolean {
  if (day > NEPSE_HOLIDAYS.coversThrough && firstDayPastTable === undefined) {
    firstDayPastTable = day;
    for (const listener of PAST_END_LISTENERS) listener(day, NEPSE_HOLIDAYS.coversThrough);
  }
  return new Date(`${day}T00:00:00Z`).getUTCDay() <= 4 && !NEPSE_HOLIDAYS.days.has(day);
}

/**
 * Calls `listener` once, the first time a day past the holiday table's end is asked about (at
 * once if that already happened).
 * @returns a function that removes the listener
 */
export function onPastHolidayTable(listener: (day: string, coversThrough: string) => void): () => void {
  if (firstDayPastTable !== undefined) listener(firstDayPastTable, NEPSE_HOLIDAYS.coversThrough);
  else PAST_END_LISTENERS.add(listener);
  return () => PAST_END_LISTENERS.delete(listener);
}

/** The holiday table's last covered day (ISO), and the first later day asked about, if any. */
export function holidayTableCoverage(): { coversThrough: string; firstDayPastTable?: string } {
  return { coversThrough: NEPSE_HOLIDAYS.coversThrough, firstDayPastTable };
}

const shift = (day: string, days: number) => new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

/** The first trading day strictly after an ISO day. */
export function nextTradingDay(day: string): string {
  let next = shift(day, 1);
  while (!isTradingDay(next)) next = shift(next, 1);
  return next;
}

/** The last `count` trading days up to and including `until` (ISO), oldest first. */
export function tradingDays(count: number, until: string): string[] {
  const days: string[] = [];
  for (let day = until; days.length < count; day = shift(day, -1)) if (isTradingDay(day)) days.push(day);
  return days.reverse();
}

/** The instant (epoch ms) of `HH:MM` Nepal time on an ISO day, e.g. a session's close. */
export function nepalTimeOn(day: string, time: string): number {
  const [hours, minutes] = time.split(':').map(Number);
  return Date.parse(`${day}T00:00:00Z`) + (hours * 60 + minutes) * 60_000 - NEPAL_OFFSET_MS;
}
