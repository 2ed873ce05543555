import { StoreError } from './errors.js';

const DATABASE_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Same whitelist as chdb's insert path (dotted segments), so a name that one
// driver accepts the other accepts too.
const IDENTIFIER_RE = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

/**
 * Session settings both drivers apply to every statement, so the same SQL gives the
 * same answer embedded and on a server (their defaults differ: chdb ships
 * `async_insert=1`, `date_time_input_format=best_effort` and unquoted 64-bit
 * integers; a server ships the opposite and its own timezone).
 */
export const SESSION_SETTINGS = {
  /** (U)Int64 as JSON numbers, so `count()` is a number on both drivers (exact up to 2^53). */
  output_format_json_quote_64bit_integers: 0,
  /** DateTime text (params, inserted strings, output) is UTC wherever the engine runs. */
  session_timezone: 'UTC',
  /** Inserted DateTime/DateTime64 strings may be ISO-8601 (`2024-01-02T03:04:05.123Z`, what JSON.stringify(Date) gives). */
  date_time_input_format: 'best_effort',
  /** An inserted key that is not a column fails the insert instead of vanishing. */
  input_format_skip_unknown_fields: 0,
  /** Inserts are synchronous and one call is one INSERT: nothing buffered, nothing merged with other calls. */
  async_insert: 0,
} as const satisfies Record<string, string | number>;

/** ClickHouse's default insert block size in rows; bigger calls raise it (see {@link insertSettings}). */
const DEFAULT_INSERT_BLOCK_ROWS = 1_048_449;

/**
 * Per-insert settings: an INSERT is atomic per block, so a call bigger than the
 * default block size asks for one block as big as the call (all-or-nothing).
 */
export function insertSettings(rows: number): Record<string, number> {
  if (rows <= DEFAULT_INSERT_BLOCK_ROWS) return {};
  return { max_insert_block_size: rows, min_insert_block_size_rows: rows, min_insert_block_size_bytes: 0 };
}

/** Validates a database name and returns it backquoted. */
export function quoteDatabase(name: string): string {
  if (typeof name !== 'string' || !DATABASE_RE.test(name)) {
    throw new StoreError(`invalid database name ${JSON.stringify(name)}: expected [A-Za-z_][A-Za-z0-9_]*`);
  }
  return `\`${name}\``;
}

/**
 * Validates a table or column name (`name` or `db.name`) and returns it unchanged;
 * the whitelist is the guard, so it is safe to splice into SQL.
 */
export function checkIdentifier(name: string, what: 'table' | 'column'): string {
  if (typeof name !== 'string' || !IDENTIFIER_RE.test(name)) {
    throw new StoreError(`invalid ${what} name ${JSON.stringify(name)}: expected [A-Za-z0-9_] segments separated by '.'`);
  }
  return name;
}

/**
 * Drops trailing `;` and whitespace: the server driver appends `FORMAT …` to a
 * query, which a trailing `;` would turn into a syntax error, while chdb would
 * happily accept it — trimming keeps the two drivers in agreement.
 */
export function trimStatement(sql: string): string {
  return sql.replace(/[\s;]+$/, '');
}
