import type { EncodedRows } from '../../lib/store/index.js';
import type { BarRecord } from './bar.js';

/** Columns of the bars table in the order {@link barsJson} writes them. */
export const BAR_INSERT_COLUMNS = ['symbol', 'date', 'open', 'high', 'low', 'close', 'volume', 'turnover', 'trades', 'ingested_at'];

/** Rows per payload piece: keeps each string well below V8's string limit on huge batches. */
const CHUNK_ROWS = 16_384;

/**
 * Bars as one JSONCompactEachRow INSERT payload, written straight from the records: one array
 * literal per bar through JSON.stringify, which prints numbers several times faster than template
 * strings do, and no row objects in between (they cost more than the engine's whole insert,
 * measured with bench/ingestion.ts). A missing turnover or trades is null (NULL).
 */
export function barsJson(bars: readonly BarRecord[], ingestedAt: Date): EncodedRows {
  const at = ingestedAt.toISOString();
  const chunks: Buffer[] = [];
  let payload = '';
  let inChunk = 0;
  for (const b of bars) {
    payload +=
      JSON.stringify([b.symbol, b.date, b.open, b.high, b.low, b.close, b.volume, b.turnover ?? null, b.trades ?? null, at]) + '\n';
    if (++inChunk === CHUNK_ROWS) {
      chunks.push(Buffer.from(payload));
      payload = '';
      inChunk = 0;
    }
  }
  if (inChunk > 0) chunks.push(Buffer.from(payload));
  return { format: 'JSONCompactEachRow', columns: BAR_INSERT_COLUMNS, chunks, rows: bars.length };
}

/**
 * Stored bars of one symbol as columns, read back only to tell changed from unchanged bars:
 * one row per symbol with an array per column parses far faster than an object per bar.
 * A missing turnover or trades reads as -1 (both are validated non-negative).
 */
export interface StoredBars {
  /** Position of each stored day (`YYYY-MM-DD`) in the columns. */
  index: Map<string, number>;
  open: number[];
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
  turnover: number[];
  trades: number[];
}

/** Whether `bar` has exactly the values stored at position `i`. */
export function sameAsStored(stored: StoredBars, i: number, bar: BarRecord): boolean {
  return (
    stored.close[i] === bar.close &&
    stored.open[i] === bar.open &&
    stored.high[i] === bar.high &&
    stored.low[i] === bar.low &&
    stored.volume[i] === bar.volume &&
    stored.turnover[i] === (bar.turnover ?? -1) &&
    stored.trades[i] === (bar.trades ?? -1)
  );
}
