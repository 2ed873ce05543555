import { Gauge } from 'prom-client';
import { holidayTableCoverage, NEPAL_OFFSET_MS, onPastHolidayTable } from '../market/calendar.js';
import type { Logger } from './logger.js';
import { metric, metricsRegistry } from './metrics-registry.js';

const DAY_MS = 86_400_000;
const watched = new WeakSet<Logger>();

/**
 * Makes the holiday table's end visible: `nepse_calendar_holiday_table_days_left` (days from
 * today in Nepal to the table's last covered day, negative once past it, for an alert before the
 * end), `nepse_calendar_past_holiday_table` (1 once a day past the table was asked about, when
 * weekdays start counting as sessions unchecked), and one warning line per logger when that happens.
 */
export function watchHolidayTable(logger: Logger): void {
  metric(
    'nepse_calendar_holiday_table_days_left',
    () =>
      new Gauge({
        name: 'nepse_calendar_holiday_table_days_left',
        help: 'Days from today (Nepal) to the last day the NEPSE holiday table covers; negative past it.',
        registers: [metricsRegistry],
        collect() {
          const { coversThrough } = holidayTableCoverage();
          this.set(
            Math.round(
              (Date.parse(`${coversThrough}T00:00:00Z`) - Date.parse(new Date(Date.now() + NEPAL_OFFSET_MS).toISOString().slice(0, 10))) /
                DAY_MS,
            ),
          );
        },
      }),
  );
  metric(
    'nepse_calendar_past_holiday_table',
    () =>
      new Gauge({
        name: 'nepse_calendar_past_holiday_table',
        help: '1 once a day after the NEPSE holiday table was asked about (read as a weekday-only session day), else 0.',
        registers: [metricsRegistry],
        collect() {
          this.set(holidayTableCoverage().firstDayPastTable === undefined ? 0 : 1);
        },
      }),
  );
  if (watched.has(logger)) return;
  watched.add(logger);
  onPastHolidayTable((day, coversThrough) => {
    logger.warn(
      { day, coversThrough },
      `trading day ${day} is past the NEPSE holiday table (it covers through ${coversThrough}): weekdays count as sessions until lib/market/nepse-holidays.json is refreshed`,
    );
  });
}
