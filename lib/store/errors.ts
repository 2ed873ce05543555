/** Longest SQL excerpt carried by an error: enough to recognise the statement, never a payload. */
const SNIPPET_CHARS = 160;

/** A one-line, length-capped excerpt of a statement for error context and logs. */
export function sqlSnippet(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS - 1)}…` : flat;
}

/** Context attached to a {@link StoreError}. */
export interface StoreErrorOptions {
  /** The statement that failed; kept as a {@link sqlSnippet}, never with bound values. */
  sql?: string;
  /** ClickHouse's numeric error code (e.g. 60 UNKNOWN_TABLE, 62 SYNTAX_ERROR), when the engine gave one. */
  clickhouseCode?: number;
  /** The driver's original error. */
  cause?: unknown;
}

/**
 * A statement the engine refused or could not run (bad SQL, unknown table, a row
 * that does not convert, …). Carries a snippet of the SQL and ClickHouse's code.
 */
export class StoreError extends Error {
  override name = 'StoreError';
  /** One-line excerpt of the failing statement, if any. */
  readonly sql: string | undefined;
  /** ClickHouse's numeric error code, if the engine gave one. */
  readonly clickhouseCode: number | undefined;

  constructor(message: string, options: StoreErrorOptions = {}) {
    const sql = options.sql === undefined ? undefined : sqlSnippet(options.sql);
    super(sql === undefined ? message : `${message} [sql: ${sql}]`, { cause: options.cause });
    this.sql = sql;
    this.clickhouseCode = options.clickhouseCode;
  }
}

/**
 * The store cannot be reached right now: the server refused or dropped the
 * connection, timed out, or the store was closed. Callers map it to gRPC
 * UNAVAILABLE (retryable), unlike a plain {@link StoreError}.
 */
export class StoreUnavailableError extends StoreError {
  override name = 'StoreUnavailableError';
}

/** A migration failed; names the migration so the operator knows where to look. */
export class MigrationError extends StoreError {
  override name = 'MigrationError';
  /** Id of the migration that failed. */
  readonly migrationId: string;

  constructor(migrationId: string, message: string, options: StoreErrorOptions = {}) {
    super(`migration ${JSON.stringify(migrationId)} failed: ${message}`, options);
    this.migrationId = migrationId;
  }
}
