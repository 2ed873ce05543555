/**
 * Values bound to `{name:Type}` placeholders, keyed by placeholder name.
 *
 * Accepted JS values: string, number, bigint (exact 64-bit), boolean, null (for a
 * `Nullable(T)` placeholder), Date (formatted for the placeholder's type, UTC) and
 * arrays of these (for `Array(T)`).
 */
export type QueryParams = Readonly<Record<string, unknown>>;

/** Rows serialised for one INSERT, in a format both drivers hand to the engine as-is. */
export interface EncodedRows {
  /**
   * `JSONCompactEachRow` (one JSON array per line, columns listed once) when every
   * row has the first row's keys — the engine parses it about twice as fast as
   * objects. `JSONEachRow` otherwise, so an omitted key still means the column's
   * DEFAULT rather than NULL. `RowBinary` (see RowBinaryWriter) for rows of many numbers,
   * which it carries as their bytes instead of printed digits; its columns must be listed.
   */
  format: 'JSONCompactEachRow' | 'JSONEachRow' | 'RowBinary';
  /** Column list for the INSERT; undefined for JSONEachRow (keys name the columns). */
  columns: string[] | undefined;
  /**
   * The payload in pieces, each holding whole rows: for the JSON formats newline-delimited pieces of at most CHUNK_ROWS (rows.ts) rows: one
   * string for a whole big batch would hit V8's ~512 MiB string limit (a few
   * million bars), and the server driver can stream the pieces as they are.
   */
  chunks: Buffer[];
  /** Number of rows in the payload. */
  rows: number;
}

/** A row to insert: column name → value. */
export type Row = Readonly<Record<string, unknown>>;

/**
 * ClickHouse behind one small interface, the same for the embedded engine (chdb)
 * and a ClickHouse server. Every statement runs in {@link Store.database}.
 *
 * One statement per call: no `;`-separated scripts (a ClickHouse server refuses
 * them over HTTP, so the embedded driver does not accept them either).
 */
export interface Store {
  /** Which engine answers: `chdb` (embedded, in-process) or `clickhouse` (a server over HTTP). */
  readonly driver: 'chdb' | 'clickhouse';
  /** The database every statement runs in; created by {@link openStore} if missing. */
  readonly database: string;
  /**
   * Rows of a SELECT as plain objects, params bound server-side with ClickHouse's
   * `{name:Type}` syntax (values never enter the SQL text).
   *
   * Output is JSON: (U)Int64 come back as JS numbers (exact only up to 2^53 —
   * select `toString(x)` when every digit matters), Date as `'YYYY-MM-DD'`,
   * DateTime as `'YYYY-MM-DD HH:MM:SS'` in UTC, DateTime64 with its fraction.
   * Do not add a FORMAT clause: the driver picks the format.
   */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]>;
  /** A statement with no result rows (DDL, ALTER, INSERT … SELECT, OPTIMIZE, TRUNCATE). */
  exec(sql: string, params?: QueryParams): Promise<void>;
  /**
   * Inserts many rows (objects keyed by column) as one INSERT: all-or-nothing per
   * call (a row that does not parse or convert fails the whole call, nothing is
   * written). An empty `rows` is a no-op. Omitted keys take the column's DEFAULT.
   *
   * Values: numbers, strings, booleans, null, bigint (sent as exact digits),
   * arrays; a JS Date is sent as an ISO-8601 UTC instant, which suits DateTime and
   * DateTime64 columns — a `Date` column wants a `'YYYY-MM-DD'` string.
   *
   * @param table a table of this store's database (`name`, or `db.name` to reach another).
   */
  insert(table: string, rows: readonly Row[]): Promise<void>;
  /**
   * Inserts a payload the caller has already encoded (see {@link EncodedRows}) as one INSERT, with
   * the same all-or-nothing contract as {@link Store.insert}: for hot write paths that print
   * their rows straight from their own records instead of going through row objects.
   * An empty payload (`rows` 0) is a no-op.
   */
  insertEncoded(table: string, encoded: EncodedRows): Promise<void>;
  /**
   * Waits for this store's in-flight calls, then releases it; later calls reject
   * with {@link StoreUnavailableError}. Idempotent. Other stores are unaffected.
   */
  close(): Promise<void>;
}

/** Where a store lives. With `url` a ClickHouse server is used, otherwise the embedded engine. */
export interface StoreOptions {
  /** ClickHouse HTTP(S) endpoint, e.g. `http://127.0.0.1:8123` (CLICKHOUSE_URL). Selects the server driver. */
  url?: string;
  /** Server user; the client's default (`default`) when unset. Ignored by chdb. */
  username?: string;
  /** Server password; empty when unset. Ignored by chdb. */
  password?: string;
  /**
   * Embedded engine data folder (chdb only); default `.data/<database>` relative to
   * the working directory. chdb runs one engine per process: see `openChdbStore`
   * for what happens when a second store asks for a different folder.
   */
  path?: string;
  /** Database name (`[A-Za-z_][A-Za-z0-9_]*`), one per service. */
  database: string;
  /** Server request timeout in milliseconds (default 30000). Ignored by chdb. */
  requestTimeoutMs?: number;
}
