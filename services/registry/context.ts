import { create } from '@bufbuild/protobuf';
import { ModelChangeSchema, type ModelChange } from '../../gen/nepse/registry/v1/registry_pb.js';
import type { Database, Queryable } from '../../lib/postgres/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import type { ArtifactStore } from './artifacts.js';
import type { ModelChanges } from './changes.js';
import type { FeatureSets } from './feature-sets.js';
import { toHistoryEntry, toModelVersion } from './model-version.js';
import type { EventOutbox } from './outbox.js';
import { registryStore, type HistoryRow, type NewHistory } from './store.js';

/** Everything the registry's handlers and consumer work with; tests build it with their own parts. */
export interface RegistryDeps {
  db: Database;
  artifacts: ArtifactStore;
  featureSets: FeatureSets;
  outbox: EventOutbox;
  changes: ModelChanges;
  logger: Logger;
  /** WatchModels keep-alive interval, in milliseconds. */
  heartbeatMs: number;
  /** Registrations being received now, and how many may be at once. */
  uploads: { active: number; readonly limit: number };
}

/**
 * Appends history inside a change's transaction and remembers which versions each entry touched,
 * so that their final state can be read before the commit and announced to watchers after it.
 */
export class HistoryWriter {
  readonly #touched: { name: string; version: number; cause: HistoryRow }[] = [];

  constructor(private readonly tx: Queryable) {}

  /** Appends an entry about `entry.version`; `alsoTouches` lists other versions whose state it changed. */
  async append(entry: NewHistory, alsoTouches: number[] = []): Promise<HistoryRow> {
    const cause = await registryStore.appendHistory(this.tx, entry);
    for (const version of [entry.version, ...alsoTouches]) this.#touched.push({ name: entry.name, version, cause });
    return cause;
  }

  /** Each touched version's state at the end of the transaction, with the entry that changed it. */
  async changes(): Promise<ModelChange[]> {
    const out: ModelChange[] = [];
    for (const t of this.#touched) {
      const row = await registryStore.version(this.tx, t.name, t.version);
      if (row) out.push(create(ModelChangeSchema, { modelVersion: toModelVersion(row), cause: toHistoryEntry(t.cause) }));
    }
    return out;
  }
}

/**
 * Runs one change of the registry in a transaction. After the commit it publishes the events the
 * change recorded in the outbox and hands the changed versions to watchers, in that order, so a
 * watcher hears of a change no earlier than the event consumers do (or, with NATS down, once the
 * events wait in the outbox for the relay).
 */
export async function commitChange<T>(deps: RegistryDeps, fn: (tx: Queryable, history: HistoryWriter) => Promise<T>): Promise<T> {
  let changes: ModelChange[] = [];
  const result = await deps.db.transaction(async (tx) => {
    const history = new HistoryWriter(tx);
    const value = await fn(tx, history);
    changes = await history.changes();
    return value;
  });
  await deps.outbox.flush();
  for (const change of changes) deps.changes.publish(change);
  return result;
}
