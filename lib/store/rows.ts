import { checkIdentifier } from './sql.js';
import type { EncodedRows, Row } from './types.js';

export type { EncodedRows };

/** Rows per payload piece. */
export const CHUNK_ROWS = 16_384;

// JSON.stringify refuses bigint; quoted digits are exact and ClickHouse's JSON
// input reads a quoted number into an integer column.
const bigintAsString = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value);

function compact(rows: readonly Row[], columns: readonly string[], replacer?: typeof bigintAsString): Buffer[] | undefined {
  const n = columns.length;
  const chunks: Buffer[] = [];
  let payload = '';
  let inChunk = 0;
  for (const row of rows) {
    const values = new Array<unknown>(n);
    for (let j = 0; j < n; j++) {
      const v = row[columns[j]!];
      if (v === undefined) return undefined;
      values[j] = v;
    }
    // A key the first row lacks would be silently dropped by a positional format.
    let keys = 0;
    for (const _ in row) keys++;
    if (keys !== n) return undefined;
    payload += JSON.stringify(values, replacer) + '\n';
    if (++inChunk === CHUNK_ROWS) {
      chunks.push(Buffer.from(payload));
      payload = '';
      inChunk = 0;
    }
  }
  if (inChunk > 0) chunks.push(Buffer.from(payload));
  return chunks;
}

function eachRow(rows: readonly Row[], replacer?: typeof bigintAsString): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < rows.length; i += CHUNK_ROWS) {
    let payload = '';
    for (const row of rows.slice(i, i + CHUNK_ROWS)) payload += JSON.stringify(row, replacer) + '\n';
    chunks.push(Buffer.from(payload));
  }
  return chunks;
}

function encode(rows: readonly Row[], replacer?: typeof bigintAsString): EncodedRows {
  const columns = Object.keys(rows[0]!);
  for (const c of columns) checkIdentifier(c, 'column');
  const chunks = columns.length > 0 ? compact(rows, columns, replacer) : undefined;
  if (chunks !== undefined) return { format: 'JSONCompactEachRow', columns, chunks, rows: rows.length };
  return { format: 'JSONEachRow', columns: undefined, chunks: eachRow(rows, replacer), rows: rows.length };
}

/**
 * Serialises rows for an INSERT (measured fastest end to end on chdb: see
 * bench/chdb-insert.ts). Plain JSON.stringify first; only a batch holding a bigint pays
 * for the replacer. Column names are checked against the identifier whitelist.
 *
 * @throws StoreError for a column name outside the whitelist.
 */
export function encodeRows(rows: readonly Row[]): EncodedRows {
  try {
    return encode(rows);
  } catch (e) {
    if (e instanceof TypeError && /BigInt/i.test(e.message)) return encode(rows, bigintAsString);
    throw e;
  }
}

/**
 * Parses JSONEachRow output into objects with one JSON.parse: the engine escapes
 * newlines inside strings, so a raw `\n` only ever separates rows.
 */
export function parseJsonEachRow<T>(text: string): T[] {
  const body = text.trimEnd();
  if (body.length === 0) return [];
  return JSON.parse(`[${body.replaceAll('\n', ',')}]`) as T[];
}

/**
 * A DateTime or DateTime64 value as the stores return it (`'YYYY-MM-DD HH:MM:SS[.ffffff]'`, UTC,
 * the session timezone) as a JS Date, to the millisecond.
 */
export function parseDateTime(text: string): Date {
  return new Date(`${text.replace(' ', 'T')}Z`);
}
