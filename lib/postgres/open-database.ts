import type { Database, DatabaseOptions } from './types.js';

/**
 * Opens a service's database: a PostgreSQL server when `url` is set (production, DATABASE_URL),
 * otherwise PGlite on `dataDir` (the local default; in memory without one). Either way the schema
 * is created if missing and every statement runs in it. Each driver is loaded only when chosen,
 * so a server deployment never loads the WebAssembly engine.
 *
 * @throws DatabaseUnavailableError when the server cannot be reached or the data folder is in
 *   use by another process; DatabaseError for an invalid schema name.
 */
export async function openDatabase(options: DatabaseOptions = {}): Promise<Database> {
  if (options.url !== undefined && options.url !== '') {
    const { openPgDatabase } = await import('./pg-driver.js');
    return openPgDatabase({ ...options, url: options.url });
  }
  const { openPgliteDatabase } = await import('./pglite-driver.js');
  return openPgliteDatabase(options);
}
