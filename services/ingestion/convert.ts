import type { Bar } from '../../gen/nepse/market/v1/market_pb.js';
import { barMessage, isoDate, isValidSymbol, normaliseSymbol } from '../../lib/market/index.js';
import type { BarRecord } from './bar.js';

/** The wire form of a stored bar: the message it arrived in, when it came over gRPC. */
export function toProtoBar(bar: BarRecord): Bar {
  return bar.wire ?? barMessage(bar.symbol, bar);
}

/**
 * A received bar as a record, before validation. A missing or impossible date becomes '' so that
 * validation reports it; the symbol is normalised.
 */
export function fromProtoBar(bar: Bar): BarRecord {
  const date = bar.date ? (isoDate(bar.date.year, bar.date.month, bar.date.day) ?? '') : '';
  return barRecord(bar, normaliseSymbol(bar.symbol), date);
}

/** The record of a received bar, given its normalised symbol and ISO date ('' when impossible). */
function barRecord(bar: Bar, symbol: string, date: string): BarRecord {
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

/**
 * {@link fromProtoBar} for the bars of one stream, remembering each distinct symbol and day it has
 * converted: a stream holds a few symbols and days thousands of times over, and normalising a
 * symbol or formatting a day per bar was a measurable share of IngestBars. `validSymbol` tells
 * whether the bar's (normalised) symbol passed isValidSymbol.
 */
export function streamBarConverter(): (bar: Bar) => { record: BarRecord; validSymbol: boolean } {
  const symbols = new Map<string, { symbol: string; valid: boolean }>();
  const days = new Map<number, string>();
  return (bar) => {
    let known = symbols.get(bar.symbol);
    if (!known) {
      const symbol = normaliseSymbol(bar.symbol);
      symbols.set(bar.symbol, (known = { symbol, valid: isValidSymbol(symbol) }));
    }
    let date = '';
    const d = bar.date;
    if (d) {
      // Outside these bounds the key could collide; such days are rare and simply not remembered.
      const key =
        d.year >= 0 && d.year < 100_000 && d.month >= 0 && d.month < 100 && d.day >= 0 && d.day < 100
          ? d.year * 10_000 + d.month * 100 + d.day
          : -1;
      const cached = key >= 0 ? days.get(key) : undefined;
      if (cached !== undefined) date = cached;
      else {
        date = isoDate(d.year, d.month, d.day) ?? '';
        if (key >= 0) days.set(key, date);
      }
    }
    return { record: barRecord(bar, known.symbol, date), validSymbol: known.valid };
  };
}
