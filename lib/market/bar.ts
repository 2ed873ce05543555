/**
 * The one shape of a daily bar in TypeScript: the fields of market.proto's `Bar` as plain numbers,
 * the day as ISO `YYYY-MM-DD`. Ingestion validates and stores it, the feature service computes on
 * it, the sample market and the benchmarks generate it; each adds only what is its own.
 */

/** One daily OHLCV session. Prices in currency units per share (NPR for NEPSE). */
export interface DailyBar {
  /** Trading day, ISO `YYYY-MM-DD`. */
  date: string;
  /** Opening price. */
  open: number;
  /** Highest price of the session. */
  high: number;
  /** Lowest price of the session. */
  low: number;
  /** Closing price. */
  close: number;
  /** Shares traded. */
  volume: number;
  /** Value traded, currency units; undefined when the source does not give it. */
  turnover?: number;
  /** Number of transactions; undefined when the source does not give it. */
  trades?: number;
}

/** A daily bar with the symbol it belongs to (upper case, as `requireSymbol` leaves it). */
export interface SymbolBar extends DailyBar {
  symbol: string;
}
