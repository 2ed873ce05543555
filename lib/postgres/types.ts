/**
 * Values bound to `$1`, `$2`, … in order.
 *
 * Accepted JS values: string, number, bigint, boolean, null, Date (an instant, for
 * `timestamptz`), Uint8Array/Buffer (for `bytea`) and arrays of scalars (for `text[]`,
 * `int4[]` …). For `json`/`jsonb` pass JSON text (`JSON.stringify(value)`) and cast
 * (`$1::jsonb`): the two drivers turn a JS array into different things otherwise.
 */
export type SqlParams = readonly unknown[];

/** Something SQL can be sent to: a {@link Database}, or the handle of one of its transactions. */
export interface Queryable {
  /**
   * Runs one statement (no `;`-separated scripts: PGlite prepares every statement) and returns
   * its rows as plain objects (an empty array for statements without a result).
   *
   * Both drivers answer the same JS types: int2/int4/int8 and float4/float8 are numbers (int8
   * exact only up to 2^53 — select `x::text` when every digit matters), numeric is a string,
   * date is `'YYYY-MM-DD'`, timestamptz is a Date, json/jsonb are parsed, bytea is a
   * Uint8Array (a Buffer on `pg`), arrays of these are arrays.
   *
   * @throws DatabaseError (SQLSTATE in `code`), DatabaseUnavailableError when the database cannot be reached.
   */
  query<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]>;
}

/** Isolation level of a transaction; PostgreSQL's default is `read committed`. */
export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

/** Options of {@link Database.transaction}. */
export interface TransactionOptions {
  /** Isolation level; default `read committed`. PGlite runs one transaction at a time, so every level behaves as serializable there. */
  isolation?: IsolationLevel;
}

/**
 * PostgreSQL behind one small interface, the same for a PostgreSQL server (`pg`, a connection
 * pool) and PGlite (embedded PostgreSQL compiled to WebAssembly, one connection). Every
 * statement runs in the database's schema (`search_path`).
 */
export interface Database extends Queryable {
  /** Which engine answers: `pg` (a PostgreSQL server) or `pglite` (embedded, in-process). */
  readonly driver: 'pg' | 'pglite';
  /** The schema every unqualified name resolves to; created by `openDatabase` if missing. */
  readonly schema: string;
  /**
   * Runs `fn` in one transaction: committed when `fn` resolves, rolled back when it throws (the
   * error is passed on). Inside `fn` use only `tx`: calling the database itself from within its
   * own transaction is refused with a DatabaseError, because on PGlite (one connection) it would
   * wait for the transaction forever, and on `pg` it would run outside it.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Waits for calls in flight, then releases connections (or the embedded engine and its data
   * folder); later calls reject with DatabaseUnavailableError. Idempotent.
   */
  close(): Promise<void>;
}

/** Where a database lives. With `url` a PostgreSQL server is used, otherwise PGlite. */
export interface DatabaseOptions {
  /** `postgres://user:password@host:5432/db` (DATABASE_URL). Selects the `pg` driver. */
  url?: string;
  /** PGlite data folder (created if missing); in memory when unset. Ignored with `url`. */
  dataDir?: string;
  /** Schema (`[a-z_][a-z0-9_]*`, at most 63 characters) for every statement; default `public`. */
  schema?: string;
  /** Connections in the `pg` pool at most. Default 10. */
  maxConnections?: number;
  /** How long getting a `pg` connection may take, in milliseconds. Default 5 000. */
  connectTimeoutMs?: number;
  /** Server-side limit per statement, in milliseconds (`pg` only); default none. */
  statementTimeoutMs?: number;
  /** Name shown in `pg_stat_activity` (`pg` only): use the service name. */
  applicationName?: string;
  /** Told about errors of idle pooled connections (which `pg` would otherwise throw). */
  onIdleError?: (error: Error) => void;
}
