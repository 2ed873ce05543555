import { join } from 'node:path';
import { migrate, type Migration } from './migrate.js';
import { openStore } from './open-store.js';
import type { Store } from './types.js';

/** The store settings every service reads (lib/config's commonEnv). */
export interface StoreConfig {
  CLICKHOUSE_URL?: string;
  CLICKHOUSE_USER?: string;
  CLICKHOUSE_PASSWORD?: string;
  DATA_DIR: string;
}

/**
 * A service's own ClickHouse database, migrated: on the server named by CLICKHOUSE_URL, or in the
 * embedded engine under `<DATA_DIR>/<service>/chdb`. Returns the ids of migrations it applied.
 */
export async function openServiceStore(
  config: StoreConfig,
  service: string,
  migrations: readonly Migration[],
): Promise<{ store: Store; applied: string[] }> {
  const store = await openStore({
    url: config.CLICKHOUSE_URL,
    username: config.CLICKHOUSE_USER,
    password: config.CLICKHOUSE_PASSWORD,
    path: join(config.DATA_DIR, service, 'chdb'),
    database: service,
  });
  try {
    return { store, applied: await migrate(store, migrations) };
  } catch (error) {
    await store.close();
    throw error;
  }
}
