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

/**
 * The first problem of a bar, or undefined when it may be stored. `today` is ISO, Nepal time.
 * `symbolChecked` says the caller already knows the symbol is valid (it checks each distinct
 * symbol of a stream once). Written out field by field: this runs for every bar ingested, and a
 * loop over field names reads each field by a computed key, which cost more than the checks.
 */
export function barProblem(bar: BarRecord, today = todayInNepal(), symbolChecked = false): BarProblem | undefined {
  if (!symbolChecked && !isValidSymbol(bar.symbol)) {
    return { field: 'symbol', reason: `symbol ${JSON.stringify(bar.symbol.slice(0, 30))} is not 1-20 capitals, digits, "_" or "-"` };
  }
  const { date, open, high, low, close, volume, turnover, trades } = bar;
  if (!ISO_DAY.test(date)) return { field: 'date', reason: `date ${JSON.stringify(date)} is not YYYY-MM-DD` };
  if (date > today) return { field: 'date', reason: `date ${date} is in the future (today is ${today} in Nepal)` };
  if (!Number.isFinite(open)) return notFinite('open');
  if (!Number.isFinite(high)) return notFinite('high');
  if (!Number.isFinite(low)) return notFinite('low');
  if (!Number.isFinite(close)) return notFinite('close');
  if (!Number.isFinite(volume)) return notFinite('volume');
  if (turnover !== undefined && !Number.isFinite(turnover)) return notFinite('turnover');
  if (trades !== undefined && !Number.isFinite(trades)) return notFinite('trades');
  if (open <= 0) return notPositive('open', open);
  if (high <= 0) return notPositive('high', high);
  if (low <= 0) return notPositive('low', low);
  if (close <= 0) return notPositive('close', close);
  if (low > high) return { field: 'low', reason: `low ${low} is above high ${high}` };
  if (open < low) return { field: 'open', reason: `open ${open} is below low ${low}` };
  if (open > high) return { field: 'open', reason: `open ${open} is above high ${high}` };
  if (close < low) return { field: 'close', reason: `close ${close} is below low ${low}` };
  if (close > high) return { field: 'close', reason: `close ${close} is above high ${high}` };
  if (volume < 0) return negative('volume', volume);
  if (turnover !== undefined && turnover < 0) return negative('turnover', turnover);
  if (trades !== undefined && trades < 0) return negative('trades', trades);
  if (trades !== undefined && !Number.isInteger(trades)) {
    return { field: 'trades', reason: `trades must be a whole number, got ${trades}` };
  }
  return undefined;
}

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;
const notFinite = (field: keyof BarRecord): BarProblem => ({ field, reason: `${field} is not a finite number` });
const notPositive = (field: keyof BarRecord, value: number): BarProblem => ({ field, reason: `${field} must be positive, got ${value}` });
const negative = (field: keyof BarRecord, value: number): BarProblem => ({ field, reason: `${field} must not be negative, got ${value}` });
