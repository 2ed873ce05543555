/**
 * When a symbol's next bar is overdue, on NEPSE's calendar (lib/market): a bar is due once its
 * session has closed. Holidays beyond the calendar's table read as missed sessions; the
 * stale-bars rule's slack and severity are set with that in mind.
 */
import { nepalTimeOn, nextTradingDay } from '../../lib/market/index.js';

/**
 * How many hours the bar after `lastBarDay` is overdue at `now`: 0 while the next session has
 * not closed yet, else the time since that session's close (`HH:MM` Nepal time). Holding the
 * rule's slack against it gives "no new bars for longer than expected on a trading day".
 */
export function hoursOverdue(lastBarDay: string, now: number, close: string): number {
  const due = nepalTimeOn(nextTradingDay(lastBarDay), close);
  return now <= due ? 0 : (now - due) / 3_600_000;
}
