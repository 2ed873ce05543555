import { MigrationError, StoreError } from './errors.js';
import type { Store } from './types.js';

/**
 * One schema change of a service, applied once per database.
 *
 * ClickHouse has no transactional DDL: if statement 2 of 3 fails, statement 1
 * stays applied and the migration is not recorded, so it runs again from the top
 * next time. Write statements that can repeat (`CREATE TABLE IF NOT EXISTS`,
 * `ADD COLUMN IF NOT EXISTS`, …).
 */
export interface Migration {
  /** Unique, stable id; applied ids are recorded, so never rename one. Migrations run in list order, not id order. */
  readonly id: string;
  /** Statements run in order, one per call (no `;`-separated scripts). */
  readonly statements: readonly string[];
}

/** Table recording applied migrations in each store's database. */
export const MIGRATIONS_TABLE = 'schema_migrations';

function validate(migrations: readonly Migration[]): void {
  const seen = new Set<string>();
  for (const m of migrations) {
    if (typeof m.id !== 'string' || m.id.trim() === '') throw new StoreError('migration id must be a non-empty string');
    if (seen.has(m.id)) throw new MigrationError(m.id, 'duplicate migration id');
    if (!Array.isArray(m.statements) || m.statements.length === 0) {
      throw new MigrationError(m.id, 'a migration needs at least one statement');
    }
    seen.add(m.id);
  }
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in list order,
 * and returns the ids it applied (empty when up to date, so a second run applies
 * nothing). Checks the whole list (ids unique and non-empty) before running any.
 *
 * Run it from one place per database (a service's start-up, or one init job in a
 * cluster): ClickHouse has no lock to stop two instances applying the same step.
 *
 * @throws MigrationError naming the failing migration, with the engine's error as `cause`.
 */
export async function migrate(store: Store, migrations: readonly Migration[]): Promise<string[]> {
  validate(migrations);
  await store.exec(
    `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id String, applied_at DateTime DEFAULT now()) ` +
      // Replacing on id: a row recorded twice (two racing instances) collapses to one.
      'ENGINE = ReplacingMergeTree ORDER BY id',
  );
  const done = new Set((await store.query<{ id: string }>(`SELECT id FROM ${MIGRATIONS_TABLE} FINAL`)).map((r) => r.id));
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.id)) continue;
    for (const [i, statement] of m.statements.entries()) {
      try {
        await store.exec(statement);
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        const clickhouseCode = e instanceof StoreError ? e.clickhouseCode : undefined;
        throw new MigrationError(m.id, `statement ${i + 1} of ${m.statements.length}: ${reason}`, { clickhouseCode, cause: e });
      }
    }
    await store.insert(MIGRATIONS_TABLE, [{ id: m.id }]);
    applied.push(m.id);
  }
  return applied;
}
