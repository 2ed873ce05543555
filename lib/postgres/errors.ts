/** Longest SQL excerpt carried by an error: enough to recognise the statement, never a payload. */
const SNIPPET_CHARS = 160;

/** A one-line, length-capped excerpt of a statement for error context and logs. */
export function sqlSnippet(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS - 1)}…` : flat;
}

/** SQLSTATE codes callers branch on (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
export const SqlState = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  syntaxError: '42601',
  undefinedTable: '42P01',
  raiseException: 'P0001',
} as const;

/** Context attached to a {@link DatabaseError}. */
export interface DatabaseErrorOptions {
  /** The statement that failed; kept as a {@link sqlSnippet}, never with bound values. */
  sql?: string;
  /** SQLSTATE, five characters (e.g. `23505` unique violation). */
  code?: string;
  /** Constraint the error is about (unique and foreign-key violations). */
  constraint?: string;
  /** The server's DETAIL line. */
  detail?: string;
  /** The driver's original error. */
  cause?: unknown;
}

/**
 * A statement the database refused or could not run (bad SQL, a violated constraint, a
 * serialization failure, …), with the SQLSTATE in `code` and an excerpt of the statement.
 */
export class DatabaseError extends Error {
  override name = 'DatabaseError';
  /** SQLSTATE, when the server gave one. */
  readonly code: string | undefined;
  /** Constraint name, for constraint violations. */
  readonly constraint: string | undefined;
  /** The server's DETAIL line, if any. */
  readonly detail: string | undefined;
  /** One-line excerpt of the failing statement, if any. */
  readonly sql: string | undefined;

  constructor(message: string, options: DatabaseErrorOptions = {}) {
    const sql = options.sql === undefined ? undefined : sqlSnippet(options.sql);
    super(sql === undefined ? message : `${message} [sql: ${sql}]`, { cause: options.cause });
    this.sql = sql;
    this.code = options.code;
    this.constraint = options.constraint;
    this.detail = options.detail;
  }
}

/**
 * The database cannot be reached right now: connection refused, dropped or timed out, the
 * server shutting down or out of connections, or the database closed. Callers map it to gRPC
 * UNAVAILABLE (retryable), unlike a plain {@link DatabaseError}.
 */
export class DatabaseUnavailableError extends DatabaseError {
  override name = 'DatabaseUnavailableError';
}

/** A migration failed (and was rolled back); names it so the operator knows where to look. */
export class MigrationError extends DatabaseError {
  override name = 'MigrationError';
  /** Id of the migration that failed. */
  readonly migrationId: string;

  constructor(migrationId: string, message: string, options: DatabaseErrorOptions = {}) {
    super(`migration ${JSON.stringify(migrationId)} failed: ${message}`, options);
    this.migrationId = migrationId;
  }
}

/** Whether `error` is a unique violation, optionally of the named constraint (or index). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  return (
    error instanceof DatabaseError &&
    error.code === SqlState.uniqueViolation &&
    (constraint === undefined || error.constraint === constraint)
  );
}

/**
 * Whether `error` means "run the transaction again": a serialization failure (serializable or
 * repeatable-read conflicts) or a deadlock the server broke by aborting this side.
 */
export function isSerializationFailure(error: unknown): boolean {
  return error instanceof DatabaseError && (error.code === SqlState.serializationFailure || error.code === SqlState.deadlockDetected);
}

/** Socket-level failures: the server is not there (or went away), not a verdict on the SQL. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that mean "not now": connection exceptions (class 08), the server shutting down or
 * starting (57P01-57P03), too many connections (53300), and a statement cancelled by
 * statement_timeout or an operator (57014).
 */
function isUnavailableState(code: string | undefined): boolean {
  return (
    code !== undefined &&
    (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || code === '57014')
  );
}

/** Messages of `pg` connection failures that carry no code. */
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Client was closed|Cannot use a pool after calling end/i;

/** Turns whatever a driver threw into a DatabaseError (or DatabaseUnavailableError); passes ours through. */
export function toDatabaseError(error: unknown, sql?: string): DatabaseError {
  if (error instanceof DatabaseError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown;
    message?: unknown;
    constraint?: unknown;
    detail?: unknown;
  };
  const message = typeof e.message === 'string' ? e.message : String(error);
  const code = typeof e.code === 'string' ? e.code : undefined;
  const options: DatabaseErrorOptions = {
    sql,
    cause: error,
    code: code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined,
    constraint: typeof e.constraint === 'string' ? e.constraint : undefined,
    detail: typeof e.detail === 'string' ? e.detail : undefined,
  };
  const unavailable =
    (code !== undefined && NETWORK_CODES.has(code)) || isUnavailableState(options.code) || UNAVAILABLE_MESSAGES.test(message);
  return unavailable ? new DatabaseUnavailableError(message, options) : new DatabaseError(message, options);
}
