import type { Store, StoreOptions } from './types.js';

/**
 * Opens a service's store: a ClickHouse server when `url` is set (production,
 * CLICKHOUSE_URL), otherwise the embedded engine (chdb) in `path` (default
 * `.data/<database>`). Either way the database is created if missing and every
 * statement runs in it. Each driver (and its native engine or HTTP client) is
 * loaded only when chosen.
 *
 * @throws StoreError for an invalid database name; StoreUnavailableError when the
 *   server (or embedded engine) cannot be reached.
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.url !== undefined && options.url !== '') {
    const { openClickHouseStore } = await import('./clickhouse-driver.js');
    return openClickHouseStore({ ...options, url: options.url });
  }
  const { openChdbStore } = await import('./chdb-driver.js');
  return openChdbStore(options);
}
