import pg from 'pg';
import { beginStatement, CallGuard, validSchema } from './call-guard.js';
import { toDatabaseError } from './errors.js';
import type { Database, DatabaseOptions, Queryable, SqlParams, TransactionOptions } from './types.js';

const OID = { int8: 20, date: 1082, textArray: 1009, int8Array: 1016, dateArray: 1182 } as const;

/**
 * Type parsers that make `pg` answer what PGlite answers: int8 as a number (pg's default is a
 * string) and date as `'YYYY-MM-DD'` (pg's default is a Date at local midnight, which shifts
 * the day in any time zone west of UTC).
 */
const builtinParser = pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => (value: string) => unknown;
const textArray = builtinParser(OID.textArray, 'text') as (value: string) => (string | null)[];
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (format === 'binary') return builtinParser(oid, format);
    switch (oid) {
      case OID.int8:
        return (value: string) => Number(value);
      case OID.date:
        return (value: string) => value;
      case OID.int8Array:
        return (value: string) => textArray(value).map((v) => (v === null ? null : Number(v)));
      case OID.dateArray:
        return textArray;
      default:
        return builtinParser(oid, 'text');
    }
  },
} as pg.CustomTypesConfig;

/**
 * Runs one statement with the extended protocol even without parameters, so that `pg` refuses
 * `;`-separated scripts exactly as PGlite does (code written against one works on the other).
 */
async function run<T>(client: pg.Pool | pg.PoolClient, sql: string, params: SqlParams | undefined): Promise<T[]> {
  try {
    const config = { text: sql, values: params ? [...params] : [], queryMode: 'extended' } as pg.QueryConfig;
    return (await client.query(config)).rows as T[];
  } catch (error) {
    throw toDatabaseError(error, sql);
  }
}

/**
 * Opens a pool to a PostgreSQL server. Every connection's `search_path` is the schema, which is
 * created when missing; a server that cannot be reached fails here, not at the first query.
 *
 * @throws DatabaseUnavailableError when the server cannot be reached; DatabaseError otherwise.
 */
export async function openPgDatabase(options: DatabaseOptions & { url: string }): Promise<Database> {
  const schema = validSchema(options.schema);
  const settings = [`-c search_path=${schema}`];
  if (options.statementTimeoutMs !== undefined)
    settings.push(`-c statement_timeout=${Math.max(1, Math.round(options.statementTimeoutMs))}`);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    application_name: options.applicationName,
    options: settings.join(' '),
    types,
  });
  // An idle connection that breaks is dropped by the pool; without a listener the 'error'
  // event would crash the process.
  pool.on('error', (error) => options.onIdleError?.(error));
  const database = new PgDatabase(pool, schema);
  try {
    await run(pool, `CREATE SCHEMA IF NOT EXISTS ${schema}`, []);
  } catch (error) {
    // Two processes creating the schema at once: the loser sees a duplicate, which is fine.
    const code = (error as { code?: string }).code;
    if (code !== '42P06' && code !== '23505') {
      await pool.end().catch(() => {});
      throw error;
    }
  }
  return database;
}

class PgDatabase implements Database {
  readonly driver = 'pg' as const;
  readonly #guard: CallGuard;
  #closing: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
  ) {
    this.#guard = new CallGuard(this, 'database');
  }

  query<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.#guard.run(sql, () => run<T>(this.pool, sql, params));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const begin = beginStatement(options.isolation);
    return this.#guard.run(begin, async () => {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw toDatabaseError(error, begin);
      }
      let broken: Error | undefined;
      try {
        await run(client, begin, []);
        const result = await this.#guard.withinTransaction((ensureOpen) =>
          fn({
            query: async <R>(sql: string, params?: SqlParams) => {
              ensureOpen(sql);
              return run<R>(client, sql, params);
            },
          }),
        );
        await run(client, 'COMMIT', []);
        return result;
      } catch (error) {
        try {
          await run(client, 'ROLLBACK', []);
        } catch (rollbackError) {
          // A connection that cannot roll back is in an unknown state: destroy it, do not reuse it.
          broken = rollbackError as Error;
        }
        // The callback's own errors (domain errors included) pass through unchanged.
        throw error;
      } finally {
        client.release(broken);
      }
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#guard.close();
      await this.pool.end();
    })();
    return this.#closing;
  }
}
