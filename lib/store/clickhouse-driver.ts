import { Readable } from 'node:stream';
import {
  ClickHouseError,
  ClickHouseLogLevel,
  createClient,
  drainStream,
  type ClickHouseClient,
  type ClickHouseClientConfigOptions,
} from '@clickhouse/client';
import { StoreError, StoreUnavailableError } from './errors.js';
import { normalizeParams } from './params.js';
import { encodeRows, type EncodedRows } from './rows.js';
import { checkIdentifier, insertSettings, quoteDatabase, SESSION_SETTINGS, trimStatement } from './sql.js';
import type { QueryParams, Row, Store } from './types.js';
import { Inflight } from './inflight.js';

/** Options of {@link openClickHouseStore}. */
export interface ClickHouseStoreOptions {
  /** HTTP(S) endpoint, e.g. `http://127.0.0.1:8123`. */
  url: string;
  /** User; the client's default (`default`) when unset. */
  username?: string;
  /** Password; empty when unset. */
  password?: string;
  /** Database the store's statements run in; created if missing. */
  database: string;
  /** Per-request timeout in milliseconds (default 30000). */
  requestTimeoutMs?: number;
}

// Socket-level failures: the server is not there (yet), or went away mid-call.
const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
// Server errors that say "not now" rather than "not this": worth a retry elsewhere.
const UNAVAILABLE_CLICKHOUSE_CODES = new Set([
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  242, // TABLE_IS_READ_ONLY (replica lost its keeper session)
]);

function toStoreError(e: unknown, sql: string | undefined): StoreError {
  if (e instanceof StoreError) return e;
  if (e instanceof ClickHouseError) {
    const code = Number(e.code);
    const clickhouseCode = Number.isInteger(code) ? code : undefined;
    const ErrorClass =
      clickhouseCode !== undefined && UNAVAILABLE_CLICKHOUSE_CODES.has(clickhouseCode) ? StoreUnavailableError : StoreError;
    return new ErrorClass(`Code: ${e.code}. ${e.message} (${e.type})`, { sql, clickhouseCode, cause: e });
  }
  const err = (e ?? {}) as { code?: unknown; message?: unknown };
  const message = typeof err.message === 'string' ? err.message : String(e);
  if ((typeof err.code === 'string' && UNAVAILABLE_SOCKET_CODES.has(err.code)) || /timeout error|socket hang up/i.test(message)) {
    return new StoreUnavailableError(`ClickHouse server unreachable: ${message}`, { sql, cause: e });
  }
  return new StoreError(message, { sql, cause: e });
}

class ClickHouseStore implements Store {
  readonly driver = 'clickhouse' as const;
  readonly database: string;
  readonly #client: ClickHouseClient;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #inflight = new Inflight();

  constructor(database: string, client: ClickHouseClient) {
    this.database = database;
    this.#client = client;
  }

  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]> {
    this.#checkOpen();
    const statement = trimStatement(sql);
    return this.#inflight.track(async () => {
      try {
        const bound = normalizeParams(statement, params);
        const result = await this.#client.query({
          query: statement,
          format: 'JSONEachRow',
          ...(bound === undefined ? {} : { query_params: bound }),
        });
        return await result.json<T>();
      } catch (e) {
        throw toStoreError(e, statement);
      }
    });
  }

  async exec(sql: string, params?: QueryParams): Promise<void> {
    this.#checkOpen();
    const statement = trimStatement(sql);
    await this.#inflight.track(async () => {
      try {
        const bound = normalizeParams(statement, params);
        await this.#client.command({ query: statement, ...(bound === undefined ? {} : { query_params: bound }) });
      } catch (e) {
        throw toStoreError(e, statement);
      }
    });
  }

  async insert(table: string, rows: readonly Row[]): Promise<void> {
    this.#checkOpen();
    checkIdentifier(table, 'table');
    if (rows.length === 0) return;
    let encoded: EncodedRows;
    try {
      encoded = encodeRows(rows);
    } catch (e) {
      throw toStoreError(e, `INSERT INTO ${table}`);
    }
    await this.insertEncoded(table, encoded);
  }

  async insertEncoded(table: string, encoded: EncodedRows): Promise<void> {
    this.#checkOpen();
    checkIdentifier(table, 'table');
    if (encoded.rows === 0) return;
    await this.#inflight.track(async () => {
      let statement = `INSERT INTO ${table}`;
      try {
        for (const c of encoded.columns ?? []) checkIdentifier(c, 'column');
        if (encoded.columns !== undefined) statement += ` (${encoded.columns.join(', ')})`;
        statement += ` FORMAT ${encoded.format}`;
        // The same payload the embedded driver sends, streamed as the request body
        // (insert() would re-serialise rows itself, with other bigint/Date rules).
        const result = await this.#client.exec({
          query: statement,
          values: Readable.from(encoded.chunks, { objectMode: false }),
          clickhouse_settings: insertSettings(encoded.rows),
        });
        await drainStream(result.stream);
      } catch (e) {
        throw toStoreError(e, statement);
      }
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      await this.#inflight.settled();
      await this.#client.close();
    })();
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreUnavailableError(`store "${this.database}" is closed`);
  }
}

/**
 * Opens a store on a ClickHouse server over HTTP (@clickhouse/client). Creates the
 * database if missing, then binds every request to it. Applies the shared session
 * settings (see SESSION_SETTINGS) on every request, so results match the embedded
 * driver; `session_timezone` needs ClickHouse 23.6 or later.
 *
 * @throws StoreUnavailableError when the server cannot be reached; StoreError when
 *   it refuses (bad credentials, no right to create the database, …).
 */
export async function openClickHouseStore(options: ClickHouseStoreOptions): Promise<Store> {
  const database = quoteDatabase(options.database);
  const base: ClickHouseClientConfigOptions = {
    url: options.url,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    request_timeout: options.requestTimeoutMs ?? 30_000,
    clickhouse_settings: { ...SESSION_SETTINGS },
    application: 'nepse-prediction-mesh',
    // Failures reach the caller as StoreError/StoreUnavailableError; the client's
    // own console logging would report each one a second time.
    log: { level: ClickHouseLogLevel.OFF },
  };
  // A client bound to a database that does not exist yet fails every request, so
  // the database is created through a client bound to none.
  const bootstrap = createClient(base);
  const createSql = `CREATE DATABASE IF NOT EXISTS ${database}`;
  try {
    await bootstrap.command({ query: createSql });
  } catch (e) {
    throw toStoreError(e, createSql);
  } finally {
    await bootstrap.close();
  }
  return new ClickHouseStore(options.database, createClient({ ...base, database: options.database }));
}
