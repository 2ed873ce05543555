import { randomUUID } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { drainPending, Session } from 'chdb';
import { StoreError, StoreUnavailableError } from './errors.js';
import { normalizeParams } from './params.js';
import { encodeRows, parseJsonEachRow, type EncodedRows } from './rows.js';
import { checkIdentifier, insertSettings, quoteDatabase, SESSION_SETTINGS, trimStatement } from './sql.js';
import type { QueryParams, Row, Store } from './types.js';
import { Inflight } from './inflight.js';

/** Options of {@link openChdbStore}. */
export interface ChdbStoreOptions {
  /** Database the store's statements run in; created if missing. */
  database: string;
  /** Data folder; default `.data/<database>` relative to the working directory. */
  path?: string;
}

/** Warning code emitted (process 'warning' event) when a store shares an engine opened at another path. */
export const SHARED_ENGINE_WARNING = 'NEPSE_STORE_SHARED_ENGINE';

// chdb binds ONE data directory per process: a Session at a second path throws
// ChdbConnectionError ("only one active data directory per process") until every
// connection at the first path is closed. Sessions at the same path coexist, each
// with its own connection (own current database, own settings), and closing one
// leaves the others working. So the process holds one engine, counted by open
// stores; every store gets its own Session on it and is kept apart by database.
interface Engine {
  /** Absolute data folder the engine was opened at. */
  readonly path: string;
  /** Open stores on it; the engine is released when this drops to 0. */
  stores: number;
  /** Other paths already warned about, so each is reported once per engine. */
  readonly warned: Set<string>;
}
interface Registry {
  engine: Engine | undefined;
  /** Open and close touch `engine` across awaits; this chain keeps them in order. */
  tail: Promise<unknown>;
}
// Kept on globalThis: the engine is per process, so two copies of this module
// (loaded under two paths) must still agree on it.
const REGISTRY_KEY = Symbol.for('nepse-prediction-mesh.store.chdb-engine');
const registry = ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] ??= {
  engine: undefined,
  tail: Promise.resolve(),
} satisfies Registry) as Registry;

function serialised<T>(fn: () => Promise<T>): Promise<T> {
  const run = registry.tail.then(fn, fn);
  registry.tail = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

/** Folder of a data folder where RowBinary payloads wait for their INSERT … FROM file(). */
const INSERT_FILES = 'insert-files';

function acquireSession(requested: string, database: string): Promise<{ session: Session; path: string }> {
  return serialised(async () => {
    let engine = registry.engine;
    if (engine === undefined) {
      // A previous engine's last close() may still be tearing down behind a
      // running operation; a Session at another path is refused until it lands.
      await drainPending();
      try {
        await mkdir(requested, { recursive: true });
        // RowBinary payloads left by a process that died in the middle of an insert: nothing in
        // this process has started one yet, and one process owns a data folder.
        await rm(join(requested, INSERT_FILES), { recursive: true, force: true });
      } catch (e) {
        throw new StoreError(`cannot create data folder ${requested}: ${(e as Error).message}`, { cause: e });
      }
      engine = registry.engine = { path: requested, stores: 0, warned: new Set() };
    } else if (engine.path !== requested && !engine.warned.has(requested)) {
      engine.warned.add(requested);
      process.emitWarning(
        `chdb runs one engine per process: store "${database}" asked for ${requested} but the engine is open at ` +
          `${engine.path}, so its database lives there (stores stay apart by database). ` +
          'Give stores in one process the same path to silence this.',
        { code: SHARED_ENGINE_WARNING },
      );
    }
    let session: Session;
    try {
      session = new Session(engine.path);
    } catch (e) {
      if (engine.stores === 0) registry.engine = undefined;
      throw toStoreError(e, undefined);
    }
    engine.stores++;
    return { session, path: engine.path };
  });
}

function releaseSession(session: Session): Promise<void> {
  return serialised(async () => {
    // Session.close() itself defers the native teardown until running ops drain.
    session.close();
    if (registry.engine !== undefined && --registry.engine.stores === 0) registry.engine = undefined;
  });
}

/** The engine's data folder while any chdb store is open in this process, else undefined. */
export function chdbEnginePath(): string | undefined {
  return registry.engine?.path;
}

interface ChdbErrorLike {
  code?: unknown;
  clickhouseCode?: unknown;
  message?: unknown;
}

function toStoreError(e: unknown, sql: string | undefined): StoreError {
  if (e instanceof StoreError) return e;
  const err = (e ?? {}) as ChdbErrorLike;
  const message = typeof err.message === 'string' ? err.message : String(e);
  const clickhouseCode = typeof err.clickhouseCode === 'number' ? err.clickhouseCode : undefined;
  // A connection that cannot be made or is gone is the embedded analogue of a
  // server that cannot be reached.
  if (err.code === 'CHDB_CONNECTION' || err.code === 'CHDB_CLOSED') {
    return new StoreUnavailableError(`chdb: ${message}`, { sql, clickhouseCode, cause: e });
  }
  return new StoreError(message, { sql, clickhouseCode, cause: e });
}

function settingLiteral(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

const SET_SESSION_SETTINGS = `SET ${Object.entries(SESSION_SETTINGS)
  .map(([k, v]) => `${k} = ${settingLiteral(v)}`)
  .join(', ')}`;

class ChdbStore implements Store {
  readonly driver = 'chdb' as const;
  readonly database: string;
  /** Absolute data folder of the engine this store runs on (may differ from the one asked for). */
  readonly path: string;
  #session: Session | undefined;
  #closing: Promise<void> | undefined;
  readonly #inflight = new Inflight();

  constructor(database: string, session: Session, path: string) {
    this.database = database;
    this.#session = session;
    this.path = path;
  }

  /** The raw chdb Session of an open chdb store (benchmarks, streaming, Arrow). */
  static sessionOf(store: Store): Session {
    if (!(store instanceof ChdbStore)) throw new StoreError('not a chdb store');
    return store.#live();
  }

  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]> {
    return parseJsonEachRow<T>(await this.#run(sql, params, 'JSONEachRow'));
  }

  async exec(sql: string, params?: QueryParams): Promise<void> {
    await this.#run(sql, params, 'TSV');
  }

  async insert(table: string, rows: readonly Row[]): Promise<void> {
    this.#live();
    checkIdentifier(table, 'table');
    if (rows.length === 0) return;
    let encoded: EncodedRows;
    try {
      encoded = encodeRows(rows);
    } catch (e) {
      throw toStoreError(e, `INSERT INTO ${table}`);
    }
    return this.insertEncoded(table, encoded);
  }

  async insertEncoded(table: string, encoded: EncodedRows): Promise<void> {
    const session = this.#live();
    checkIdentifier(table, 'table');
    if (encoded.rows === 0) return;
    return this.#inflight.track(async () => {
      let context = `INSERT INTO ${table}`;
      try {
        for (const c of encoded.columns ?? []) checkIdentifier(c, 'column');
        context += ` FORMAT ${encoded.format}`;
        const settings = insertSettings(encoded.rows);
        if (encoded.format === 'RowBinary') {
          await this.#insertFromFile(session, table, encoded, settings);
          return;
        }
        await session.insert({
          table,
          values: encoded.chunks.length === 1 ? encoded.chunks[0]! : Buffer.concat(encoded.chunks),
          format: encoded.format,
          ...(encoded.columns === undefined ? {} : { columns: encoded.columns }),
          ...(Object.keys(settings).length === 0 ? {} : { settings }),
        });
      } catch (e) {
        throw toStoreError(e, context);
      }
    });
  }

  /**
   * A binary payload through a file beside the data: chdb's raw inserts take text formats only,
   * and `file()` reads the rows with the column types of the table they go into.
   */
  async #insertFromFile(session: Session, table: string, encoded: EncodedRows, settings: Record<string, number>): Promise<void> {
    if (encoded.columns === undefined) throw new StoreError('a RowBinary insert needs its column list');
    const folder = join(this.path, INSERT_FILES);
    await mkdir(folder, { recursive: true });
    const file = join(folder, `${randomUUID()}.rowbinary`);
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writev(encoded.chunks);
      } finally {
        await handle.close();
      }
      const withSettings = Object.entries(settings).map(([k, v]) => `${k} = ${settingLiteral(v)}`);
      await session.queryAsync(
        `INSERT INTO ${table} (${encoded.columns.join(', ')}) SELECT * FROM file(${settingLiteral(file)}, 'RowBinary')` +
          (withSettings.length > 0 ? ` SETTINGS ${withSettings.join(', ')}` : ''),
        { format: 'TSV' },
      );
    } finally {
      await rm(file, { force: true });
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const session = this.#session;
      this.#session = undefined;
      await this.#inflight.settled();
      if (session !== undefined) await releaseSession(session);
    })();
    return this.#closing;
  }

  #live(): Session {
    if (this.#session === undefined) throw new StoreUnavailableError(`store "${this.database}" is closed`);
    return this.#session;
  }

  #run(sql: string, params: QueryParams | undefined, format: string): Promise<string> {
    const session = this.#live();
    const statement = trimStatement(sql);
    return this.#inflight.track(async () => {
      try {
        const bound = normalizeParams(statement, params);
        // Unbound statements skip chdb's process-wide lock for bound ones (it
        // serialises every queryBindAsync in the process) and run in parallel.
        const result =
          bound === undefined
            ? await session.queryAsync(statement, { format })
            : await session.queryBindAsync(statement, bound, { format });
        return result.text();
      } catch (e) {
        throw toStoreError(e, statement);
      }
    });
  }
}

/**
 * Opens a store on the embedded engine (chdb): ClickHouse in this process, off
 * the event loop (every statement and insert runs on libuv's pool).
 *
 * One engine per process: chdb binds one data folder per process (a second folder
 * is refused while the first is open). The first store opens the engine at its
 * `path`; a later store asking for another path shares that engine (a
 * {@link SHARED_ENGINE_WARNING} process warning says so, once per path) and is
 * kept apart by its database — each store has its own connection whose current
 * database is its own. Stores are reference counted: closing one never disturbs
 * another, and once the last closes, the next store may open the engine anywhere.
 *
 * @throws StoreError for an invalid database name; StoreUnavailableError when the
 *   engine cannot be opened (e.g. other code in the process holds chdb at another folder).
 */
export async function openChdbStore(options: ChdbStoreOptions): Promise<Store> {
  const database = quoteDatabase(options.database);
  const requested = resolve(options.path ?? join('.data', options.database));
  const { session, path } = await acquireSession(requested, options.database);
  try {
    // Settings and the current database are per connection: they hold for every
    // later statement on this session and for no other store's.
    await session.queryAsync(SET_SESSION_SETTINGS);
    await session.queryAsync(`CREATE DATABASE IF NOT EXISTS ${database}`);
    await session.queryAsync(`USE ${database}`);
  } catch (e) {
    await releaseSession(session);
    throw toStoreError(e, `CREATE DATABASE IF NOT EXISTS ${database}`);
  }
  return new ChdbStore(options.database, session, path);
}

/**
 * The raw chdb Session behind an open chdb store, for what the Store interface
 * leaves out: raw-format inserts (`bench/chdb-insert.ts` measures the engine with it),
 * streaming reads, Arrow output. It shares the store's connection, so it runs in
 * the store's database with its settings; do not close it — close the store.
 *
 * @throws StoreError if `store` is not a chdb store; StoreUnavailableError if closed.
 */
export function chdbSession(store: Store): Session {
  return ChdbStore.sessionOf(store);
}
