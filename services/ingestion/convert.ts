import type { Bar } from '../../gen/nepse/market/v1/market_pb.js';
import { isoDate, normaliseSymbol } from '../../lib/market/index.js';
import type { BarRecord } from './bar.js';

/**
 * The wire form of a stored bar. Built as a plain message object rather than through create():
 * events carry thousands of bars, and every field is set here anyway.
 */
export function toProtoBar(bar: BarRecord): Bar {
  if (bar.wire) return bar.wire;
  return {
    $typeName: 'nepse.market.v1.Bar',
    symbol: bar.symbol,
    date: { $typeName: 'nepse.market.v1.Date', year: +bar.date.slice(0, 4), month: +bar.date.slice(5, 7), day: +bar.date.slice(8, 10) },
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume,
    turnover: bar.turnover,
    trades: bar.trades === undefined ? undefined : BigInt(bar.trades),
  };
}

/**
 * A received bar as a record, before validation. A missing or impossible date becomes '' so that
 * validation reports it; the symbol is normalised.
 */
export function fromProtoBar(bar: Bar): BarRecord {
  const date = bar.date ? (isoDate(bar.date.year, bar.date.month, bar.date.day) ?? '') : '';
  const symbol = normaliseSymbol(bar.symbol);
  return {
    wire: symbol === bar.symbol ? bar : undefined,
    symbol,
    date,
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume,
    turnover: bar.turnover,
    trades: bar.trades === undefined ? undefined : Number(bar.trades),
  };
}
