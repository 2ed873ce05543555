import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createLogger, metricsRegistry, watchHolidayTable } from '../telemetry/index.js';
import { holidayTableCoverage, isTradingDay, nextTradingDay, tradingDays } from './calendar.js';
import { holidayTableProblems, NEPSE_HOLIDAYS, parseHolidayTable } from './holiday-table.js';

const shipped = JSON.parse(readFileSync(new URL('./nepse-holidays.json', import.meta.url), 'utf8'));
const gauge = async (name: string) => (await metricsRegistry.getSingleMetric(name)?.get())?.values[0]?.value;

describe('NEPSE holiday table', () => {
  it('ships sound: real days, in order, none twice, every one named and within its coverage', () => {
    assert.deepEqual(holidayTableProblems(shipped), []);
    const dates = NEPSE_HOLIDAYS.holidays.map((h) => h.date);
    assert.equal(new Set(dates).size, dates.length);
    assert.deepEqual([...dates].sort(), dates);
    assert.ok(NEPSE_HOLIDAYS.coversThrough >= dates.at(-1)!);
  });

  it('closes the market on listed holidays only', () => {
    assert.equal(isTradingDay('2025-10-21'), false); // Tihar, a Tuesday
    assert.equal(isTradingDay('2025-10-23'), true);
    assert.equal(isTradingDay('2025-10-24'), false); // Friday
  });

  it('names every problem of a bad table', () => {
    const problems = holidayTableProblems({
      coversThrough: '2026-12-31',
      holidays: [
        { date: '2026-05-01', name: 'Labour Day' },
        { date: '2026-05-01', name: 'Labour Day' },
        { date: '2026-04-14', name: 'New Year' },
        { date: '2026-02-30', name: 'No such day' },
        { date: '2026-06-01', name: ' ' },
        { date: '2027-01-01', name: 'Too late' },
      ],
    });
    assert.deepEqual(problems, [
      'holidays[1].date 2026-05-01 is listed twice',
      'holidays[2].date 2026-04-14 comes after 2026-05-01: keep the table in date order',
      'holidays[3].date "2026-02-30" is not a real YYYY-MM-DD day',
      'holidays[4].name is empty (2026-06-01)',
      'holidays[5].date 2027-01-01 is after coversThrough 2026-12-31',
    ]);
    assert.throws(() => parseHolidayTable({ holidays: [] }), /coversThrough undefined is not a YYYY-MM-DD day/);
  });

  it('reads weekdays past its end as sessions, warning once and raising the flag, never failing', async () => {
    const lines: Array<Record<string, unknown>> = [];
    watchHolidayTable(createLogger('calendar-test', 'info', { write: (line: string) => void lines.push(JSON.parse(line)) }));
    assert.equal(holidayTableCoverage().firstDayPastTable, undefined);
    assert.equal(await gauge('nepse_calendar_past_holiday_table'), 0);

    const end = NEPSE_HOLIDAYS.coversThrough; // 2026-12-31, a Thursday
    assert.equal(nextTradingDay(end), '2027-01-03'); // Sunday: Friday and Saturday stay closed
    assert.equal(isTradingDay('2027-01-04'), true);
    assert.equal(isTradingDay('2027-01-08'), false);
    assert.equal(tradingDays(3, '2027-01-05').length, 3);

    assert.equal(holidayTableCoverage().firstDayPastTable, '2027-01-01');
    assert.equal(await gauge('nepse_calendar_past_holiday_table'), 1);
    const warnings = lines.filter((line) => line.level === 'warn');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].coversThrough, end);
    assert.match(String(warnings[0].msg), /past the NEPSE holiday table/);
    assert.equal(typeof (await gauge('nepse_calendar_holiday_table_days_left')), 'number');
  });
});
