/**
 * NEPSE's session calendar: sessions run Sunday to Thursday, closed on the main public holidays,
 * in Asia/Kathmandu (UTC+05:45 all year; Nepal has no daylight saving).
 */

/** Nepal's offset from UTC, in milliseconds. */
export const NEPAL_OFFSET_MS = (5 * 60 + 45) * 60_000;
const DAY_MS = 86_400_000;

/**
 * Main public holidays on which NEPSE is closed, 2023–2026 (approximate Gregorian dates of the
 * festivals, which follow the lunar and Bikram Sambat calendars). Years beyond the table have
 * weekends only.
 */
const HOLIDAYS = new Set([
  '2023-01-15', '2023-02-18', '2023-03-07', '2023-04-14', '2023-05-01', '2023-05-05', '2023-09-19', '2023-10-22', '2023-10-23', '2023-10-24', '2023-11-12', '2023-11-13', '2023-11-14', '2023-11-19',
  '2024-01-15', '2024-03-08', '2024-03-24', '2024-04-14', '2024-05-01', '2024-05-23', '2024-09-06', '2024-10-10', '2024-10-11', '2024-10-13', '2024-10-31', '2024-11-01', '2024-11-03', '2024-11-07',
  '2025-01-14', '2025-02-26', '2025-03-13', '2025-04-14', '2025-05-01', '2025-05-12', '2025-08-26', '2025-09-30', '2025-10-01', '2025-10-02', '2025-10-20', '2025-10-21', '2025-10-22', '2025-10-27',
  '2026-01-14', '2026-02-15', '2026-03-02', '2026-04-14', '2026-05-01', '2026-05-01', '2026-09-14', '2026-10-19', '2026-10-20', '2026-10-21', '2026-11-08', '2026-11-09', '2026-11-10',
]);

/** Whether NEPSE holds a session on an ISO day: Sunday to Thursday, not a known public holiday. */
export function isTradingDay(day: string): boolean {
  return new Date(`${day}T00:00:00Z`).getUTCDay() <= 4 && !HOLIDAYS.has(day);
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
