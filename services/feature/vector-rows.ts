import { RowBinaryWriter } from '../../lib/store/index.js';
import type { FeatureRow } from './feature-sets/index.js';

/** Columns of the `features` table in the order {@link encodeVectors} writes them. */
export const FEATURE_COLUMNS = ['set_name', 'set_version', 'symbol', 'date', 'close', 'values', 'computed_at'];

/** Bytes a vector of `width` values takes in RowBinary, about (names, date, close, stamp and the values). */
export function vectorBytes(width: number): number {
  return 64 + 8 * width;
}

/**
 * Appends rows of the `features` table for vectors of one symbol and set: what the offline store
 * keeps, with the doubles as their bytes. Worker threads call it too, so it imports no engine.
 */
export function encodeVectors(
  writer: RowBinaryWriter,
  set: { name: string; version: number },
  symbol: string,
  rows: readonly FeatureRow[],
  computedAt: Date,
): void {
  for (const row of rows) {
    writer.string(set.name).uint32(set.version).string(symbol).date(row.date).float64(row.close).float64Array(row.values);
    writer.dateTime64Micros(computedAt).endRow();
  }
}
