import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { beginStatement, CallGuard, validSchema } from './call-guard.js';
import { DatabaseUnavailableError, toDatabaseError } from './errors.js';
import type { Database, DatabaseOptions, Queryable, SqlParams, TransactionOptions } from './types.js';

const OID_DATE = 1082;

// V8 in Node 24 can abort while it frees WebAssembly code that has been tiered up ("Check failed:
// jit_page.has_value()" in ThreadIsolation::UnregisterWasmAllocation). In a process that has also
// loaded chdb the abort does not even end the process: ClickHouse's fatal-signal handler waits for a
// listener thread that embedded chdb never starts, so the process hangs. PGlite is the large
// WebAssembly module that calls into JavaScript all the time, so its wrappers are what tier up;
// keeping compiled code instead of collecting it takes that path away, at the cost of code memory
// that is never returned (bounded: one engine's code, compiled once per tier).
setFlagsFromString('--no-wasm-code-gc');

/** Whether a process with this id exists (EPERM: it does, it is just not ours). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lock files this process holds. */
const heldLocks = new Set<string>();

/**
 * Claims a data folder for this process with a lock file beside it. PGlite takes no lock of its
 * own, and two engines writing one folder corrupt it; a lock left by a dead process is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const path = `${resolve(dataDir)}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldLocks.add(path);
      return () => {
        heldLocks.delete(path);
        rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw toDatabaseError(error);
      const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      // In a container every process is PID 1: a lock naming this PID that this process did not
      // take was left by the previous container on the same volume, and is stale.
      if (owner === process.pid && heldLocks.has(path))
        throw new DatabaseUnavailableError(`PGlite data folder ${dataDir} is already open in this process`);
      if (owner !== process.pid && Number.isInteger(owner) && owner > 0 && alive(owner))
        throw new DatabaseUnavailableError(`PGlite data folder ${dataDir} is in use by process ${owner}`);
      rmSync(path, { force: true });
    }
  }
}

async function run<T>(db: PGlite | Transaction, sql: string, params: SqlParams | undefined): Promise<T[]> {
  try {
    return (await db.query<T>(sql, params ? [...params] : [])).rows;
  } catch (error) {
    throw toDatabaseError(error, sql);
  }
}

/**
 * Opens PGlite (PostgreSQL compiled to WebAssembly, in this process) on a data folder, or in
 * memory without one. The engine has one connection: statements and transactions take turns.
 *
 * @throws DatabaseUnavailableError when the folder is in use by another live process.
 */
export async function openPgliteDatabase(options: DatabaseOptions): Promise<Database> {
  const schema = validSchema(options.schema);
  const unlock = options.dataDir ? lockDataDir(options.dataDir) : () => {};
  let engine: PGlite | undefined;
  try {
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    const { PGlite } = await import('@electric-sql/pglite');
    // Dates as 'YYYY-MM-DD', as the pg driver answers them (PGlite's default is a Date).
    engine = new PGlite({ dataDir: options.dataDir, parsers: { [OID_DATE]: (value: string) => value } });
    await engine.waitReady;
    await run(engine, `CREATE SCHEMA IF NOT EXISTS ${schema}`, []);
    // One connection, so setting the session's search_path once covers every later statement.
    await run(engine, `SET search_path TO ${schema}`, []);
    return new PgliteDatabase(engine, schema, unlock);
  } catch (error) {
    await engine?.close().catch(() => {});
    unlock();
    throw toDatabaseError(error);
  }
}

class PgliteDatabase implements Database {
  readonly driver = 'pglite' as const;
  readonly #guard: CallGuard;
  #closing: Promise<void> | undefined;

  constructor(
    private readonly engine: PGlite,
    readonly schema: string,
    private readonly unlock: () => void,
  ) {
    this.#guard = new CallGuard(this, 'database');
  }

  query<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.#guard.run(sql, () => run<T>(this.engine, sql, params));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const begin = beginStatement(options.isolation);
    return this.#guard.run(begin, async () => {
      let failure: { error: unknown } | undefined;
      try {
        return await this.engine.transaction(async (raw) => {
          try {
            // PGlite's transaction() sends a bare BEGIN; the level, when asked for, is set first thing.
            if (options.isolation) await run(raw, `SET TRANSACTION ISOLATION LEVEL ${options.isolation.toUpperCase()}`, []);
            return await this.#guard.withinTransaction((ensureOpen) =>
              fn({
                query: async <R>(sql: string, params?: SqlParams) => {
                  ensureOpen(sql);
                  return run<R>(raw, sql, params);
                },
              }),
            );
          } catch (error) {
            failure = { error };
            throw error;
          }
        });
      } catch (error) {
        // The callback's own errors pass through unchanged; the rest came from COMMIT or ROLLBACK.
        if (failure && failure.error === error) throw error;
        throw toDatabaseError(error, 'COMMIT');
      }
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#guard.close();
      try {
        await this.engine.close();
      } finally {
        this.unlock();
      }
    })();
    return this.#closing;
  }
}
