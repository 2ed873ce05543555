import { isoDate } from '../../lib/market/index.js';

/** Trading days as ISO `YYYY-MM-DD` strings: sortable, and what ClickHouse's Date reads and writes. */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** Order of day and month in slash dates such as 03/04/2024. */
export type DayMonthOrder = 'DMY' | 'MDY';

/** A parsed date, or why it is not one. `ambiguous` marks a d/m/y date whose day and month could swap. */
export type DateParse = { ok: true; iso: string; ambiguous?: { alternative: string } } | { ok: false; reason: string };

function monthNumber(name: string): number | undefined {
  const index = MONTHS.indexOf(name.slice(0, 3).toLowerCase());
  return index < 0 ? undefined : index + 1;
}

/**
 * Parses the date forms NEPSE exports use: ISO (`2024-01-15`, with a time or `T…` suffix),
 * `2024/01/15`, `15/01/2024` or `1/15/2024` (order from `order`, or flagged ambiguous when
 * both readings are valid), `15-Jan-2024`, `Jan 15, 2024` and `20240115`.
 */
export function parseTradingDate(text: string, order?: DayMonthOrder): DateParse {
  const value = text.trim().replace(/^"|"$/g, '');
  if (value === '') return { ok: false, reason: 'date is empty' };
  let match = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$/.exec(value);
  if (match) return checked(isoDate(+match[1], +match[2], +match[3]), value);
  match = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (match) return checked(isoDate(+match[1], +match[2], +match[3]), value);
  match = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T].*)?$/.exec(value);
  if (match) {
    const [a, b, year] = [+match[1], +match[2], +match[3]];
    const dmy = isoDate(year, b, a);
    const mdy = isoDate(year, a, b);
    if (order === 'DMY') return checked(dmy, value);
    if (order === 'MDY') return checked(mdy, value);
    if (dmy && mdy && dmy !== mdy) return { ok: true, iso: dmy, ambiguous: { alternative: mdy } };
    return checked(dmy ?? mdy, value);
  }
  match = /^(\d{1,2})[- ]([A-Za-z]{3,9})[-, ]+(\d{4})$/.exec(value);
  if (match) return checked(isoDate(+match[3], monthNumber(match[2]) ?? 0, +match[1]), value);
  match = /^([A-Za-z]{3,9})[- ](\d{1,2}),?[- ](\d{4})$/.exec(value);
  if (match) return checked(isoDate(+match[3], monthNumber(match[1]) ?? 0, +match[2]), value);
  return { ok: false, reason: `date ${JSON.stringify(value.slice(0, 40))} is not in a recognised format` };
}

function checked(iso: string | undefined, original: string): DateParse {
  return iso ? { ok: true, iso } : { ok: false, reason: `date ${JSON.stringify(original.slice(0, 40))} is not a real calendar day` };
}
