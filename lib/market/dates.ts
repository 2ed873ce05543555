import { create } from '@bufbuild/protobuf';
import { DateSchema, type Bar, type Date as TradingDate, type DateRange } from '../../gen/nepse/market/v1/market_pb.js';
import { InvalidArgumentError } from '../grpc/errors.js';
import type { DailyBar } from './bar.js';
import { NEPAL_OFFSET_MS } from './calendar.js';

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/** ISO `YYYY-MM-DD` of a calendar day, or undefined when no such day exists (2023-02-30). */
export function isoDate(year: number, month: number, day: number): string | undefined {
  if (!(Number.isInteger(year) && Number.isInteger(month) && Number.isInteger(day))) return undefined;
  if (year < 1900 || year > 9999 || month < 1 || month > 12 || day < 1) return undefined;
  if (day > (month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1])) return undefined;
  return `${year}-${two(month)}-${two(day)}`;
}

/** The proto Date of an ISO day. */
export function toProtoDate(iso: string): TradingDate {
  return create(DateSchema, { year: +iso.slice(0, 4), month: +iso.slice(5, 7), day: +iso.slice(8, 10) });
}

/**
 * The wire form of a daily bar of `symbol` (market.proto's `Bar`). Built as a plain message, not
 * through create(): events and streams carry thousands of bars, and every field is set here.
 */
export function barMessage(symbol: string, bar: DailyBar): Bar {
  const { date } = bar;
  return {
    $typeName: 'nepse.market.v1.Bar',
    symbol,
    date: { $typeName: 'nepse.market.v1.Date', year: +date.slice(0, 4), month: +date.slice(5, 7), day: +date.slice(8, 10) },
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume,
    turnover: bar.turnover,
    trades: bar.trades === undefined ? undefined : BigInt(bar.trades),
  };
}

/** The ISO day of a proto Date as received, '' when unset (for display and comparisons; no validation). */
export function dayOf(date?: { year: number; month: number; day: number }): string {
  return date ? `${String(date.year).padStart(4, '0')}-${two(date.month)}-${two(date.day)}` : '';
}

/** The ISO day of a proto Date; INVALID_ARGUMENT naming `field` when it is not a real day. */
export function fromProtoDate(date: TradingDate, field: string): string {
  const iso = isoDate(date.year, date.month, date.day);
  if (!iso) {
    throw new InvalidArgumentError({ field, description: `${date.year}-${date.month}-${date.day} is not a real calendar day` });
  }
  return iso;
}

/** Bounds of an optional DateRange as ISO days, open ends filled with the widest span ClickHouse's Date holds. */
export function rangeBounds(range: DateRange | undefined, field: string): { from: string; to: string } {
  const from = range?.start ? fromProtoDate(range.start, `${field}.start`) : '1970-01-01';
  const to = range?.end ? fromProtoDate(range.end, `${field}.end`) : '2149-06-06';
  if (from > to) throw new InvalidArgumentError({ field: `${field}.end`, description: `end ${to} is before start ${from}` });
  return { from, to };
}

/**
 * Today's date in Nepal (UTC+05:45), the latest trading day a bar may carry. Bikram Sambat dates
 * (years 2070-2099 of the Nepali calendar) therefore read as "in the future" and are refused.
 */
export function todayInNepal(now = Date.now()): string {
  return new Date(now + NEPAL_OFFSET_MS).toISOString().slice(0, 10);
}
