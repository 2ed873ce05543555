/**
 * PostgreSQL for the mesh's services, through one small interface with two drivers: `pg` (a
 * connection pool to a PostgreSQL server, when DATABASE_URL is set) and PGlite (embedded
 * PostgreSQL in the process, on a data folder: the local default). The same SQL, with the same
 * `$1` parameters and the same migrations, runs on both.
 *
 * ```ts
 * import { isUniqueViolation, migrate, openDatabase, type Migration } from '../../lib/postgres/index.js';
 *
 * const MIGRATIONS: Migration[] = [
 *   { id: '001_models', statements: ['CREATE TABLE models (name text PRIMARY KEY, versions int NOT NULL DEFAULT 0)'] },
 * ];
 *
 * const db = await openDatabase({ url: process.env.DATABASE_URL, dataDir: '.data/registry/pglite', schema: 'registry' });
 * await migrate(db, MIGRATIONS);                              // applied ids; [] when up to date
 * const version = await db.transaction(async (tx) => {
 *   await tx.query('INSERT INTO models (name) VALUES ($1) ON CONFLICT DO NOTHING', ['ridge']);
 *   const [row] = await tx.query<{ versions: number }>(
 *     'UPDATE models SET versions = versions + 1 WHERE name = $1 RETURNING versions', ['ridge']);
 *   return row.versions;
 * });
 * await db.close();
 * ```
 *
 * Behaviour both drivers share:
 * - One statement per call, always prepared (no `;`-separated scripts).
 * - The same JS types out (see {@link Queryable.query}): int8 is a number, date a `'YYYY-MM-DD'`
 *   string, timestamptz a Date, json/jsonb parsed, numeric a string.
 * - Transactions: committed when the callback resolves, rolled back when it throws; inside the
 *   callback only the `tx` handle may be used (the database itself refuses, see
 *   {@link Database.transaction}). PGlite has one connection, so its transactions take turns;
 *   on `pg` use `SELECT … FOR UPDATE` or serializable isolation where they could collide.
 * - Failures are {@link DatabaseError} with the SQLSTATE in `code` ({@link isUniqueViolation},
 *   {@link isSerializationFailure}); {@link DatabaseUnavailableError} means "not reachable now"
 *   (map to UNAVAILABLE).
 *
 * PGlite claims its data folder with a `<dataDir>.lock` file: a second process (or a second open
 * in this one) is refused with DatabaseUnavailableError instead of corrupting the folder.
 *
 * @module
 */
export type { Database, DatabaseOptions, IsolationLevel, Queryable, SqlParams, TransactionOptions } from './types.js';
export { openDatabase } from './open-database.js';
export { migrate, MIGRATIONS_TABLE, type Migration } from './migrate.js';
export {
  DatabaseError,
  DatabaseUnavailableError,
  MigrationError,
  SqlState,
  isSerializationFailure,
  isUniqueViolation,
  type DatabaseErrorOptions,
} from './errors.js';
