/**
 * NEPSE's session calendar as far as staleness needs it: sessions run Sunday to Thursday in
 * Asia/Kathmandu (UTC+05:45 all year; Nepal has no daylight saving). Public holidays are not
 * known here, so a holiday reads as a missed session; the stale-bars rule's slack and severity
 * are set with that in mind.
 */

/** Nepal's offset from UTC, in milliseconds. */
export const NEPAL_OFFSET_MS = (5 * 60 + 45) * 60_000;
const DAY_MS = 86_400_000;

/** Whether NEPSE holds a session on an ISO day (Sunday to Thursday). */
export function isSessionDay(day: string): boolean {
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
  return weekday <= 4;
}

/** The first session day strictly after an ISO day. */
export function nextSessionDay(day: string): string {
  let t = Date.parse(`${day}T00:00:00Z`);
  do t += DAY_MS;
  while (new Date(t).getUTCDay() > 4);
  return new Date(t).toISOString().slice(0, 10);
}

/** The instant (epoch ms) a session's bar is due: its close, `HH:MM` Nepal time, on `day`. */
export function sessionCloseAt(day: string, close: string): number {
  const [hours, minutes] = close.split(':').map(Number);
  return Date.parse(`${day}T00:00:00Z`) + (hours * 60 + minutes) * 60_000 - NEPAL_OFFSET_MS;
}

/**
 * How many hours the bar after `lastBarDay` is overdue at `now`: 0 while the next session has
 * not closed yet, else the time since that session's close. Holding the rule's slack against it
 * gives "no new bars for longer than expected on a trading day".
 */
export function hoursOverdue(lastBarDay: string, now: number, close: string): number {
  const due = sessionCloseAt(nextSessionDay(lastBarDay), close);
  return now <= due ? 0 : (now - due) / 3_600_000;
}
