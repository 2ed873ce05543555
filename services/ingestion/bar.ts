import type { Bar } from '../../gen/nepse/market/v1/market_pb.js';
import { isValidSymbol, todayInNepal, type SymbolBar } from '../../lib/market/index.js';

/** One daily bar as the ingestion service handles it: the kit's bar shape and, when it came over gRPC, its wire form. */
export interface BarRecord extends SymbolBar {
  /** The bar as received over gRPC, reused on the wire when nothing about it was normalised. */
  wire?: Bar;
}

/** Why a bar was refused: the field at fault and a sentence for people. */
export interface BarProblem {
  field: keyof BarRecord;
  reason: string;
}

/** The first problem of a bar, or undefined when it may be stored. `today` is ISO, Nepal time. */
export function barProblem(bar: BarRecord, today = todayInNepal()): BarProblem | undefined {
  if (!isValidSymbol(bar.symbol)) {
    return { field: 'symbol', reason: `symbol ${JSON.stringify(bar.symbol.slice(0, 30))} is not 1-20 capitals, digits, "_" or "-"` };
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(bar.date)) return { field: 'date', reason: `date ${JSON.stringify(bar.date)} is not YYYY-MM-DD` };
  if (bar.date > today) return { field: 'date', reason: `date ${bar.date} is in the future (today is ${today} in Nepal)` };
  for (const field of ['open', 'high', 'low', 'close', 'volume', 'turnover', 'trades'] as const) {
    const value = bar[field];
    if (value !== undefined && !Number.isFinite(value)) return { field, reason: `${field} is not a finite number` };
  }
  for (const field of ['open', 'high', 'low', 'close'] as const) {
    if (bar[field] <= 0) return { field, reason: `${field} must be positive, got ${bar[field]}` };
  }
  if (bar.low > bar.high) return { field: 'low', reason: `low ${bar.low} is above high ${bar.high}` };
  for (const field of ['open', 'close'] as const) {
    if (bar[field] < bar.low) return { field, reason: `${field} ${bar[field]} is below low ${bar.low}` };
    if (bar[field] > bar.high) return { field, reason: `${field} ${bar[field]} is above high ${bar.high}` };
  }
  for (const field of ['volume', 'turnover', 'trades'] as const) {
    const value = bar[field];
    if (value !== undefined && value < 0) return { field, reason: `${field} must not be negative, got ${value}` };
  }
  if (bar.trades !== undefined && !Number.isInteger(bar.trades)) {
    return { field: 'trades', reason: `trades must be a whole number, got ${bar.trades}` };
  }
  return undefined;
}
