import { DatabaseError, MigrationError } from './errors.js';
import type { Database } from './types.js';

/**
 * One schema change of a service, applied once per schema. PostgreSQL runs DDL in transactions,
 * so a migration is all-or-nothing: when statement 2 of 3 fails, statement 1 is rolled back too
 * and the migration is not recorded.
 */
export interface Migration {
  /** Unique, stable id; applied ids are recorded, so never rename one. Migrations run in list order. */
  readonly id: string;
  /** Statements run in order, one per call (no `;`-separated scripts). */
  readonly statements: readonly string[];
}

/** Table recording applied migrations in each schema. */
export const MIGRATIONS_TABLE = 'schema_migrations';

function validate(migrations: readonly Migration[]): void {
  const seen = new Set<string>();
  for (const m of migrations) {
    if (typeof m.id !== 'string' || m.id.trim() === '') throw new DatabaseError('migration id must be a non-empty string');
    if (seen.has(m.id)) throw new MigrationError(m.id, 'duplicate migration id');
    if (!Array.isArray(m.statements) || m.statements.length === 0)
      throw new MigrationError(m.id, 'a migration needs at least one statement');
    seen.add(m.id);
  }
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in list order, each in its own
 * transaction, and returns the ids it applied (empty when up to date). Checks the whole list
 * before running any. Safe to run from several instances at once: each migration's transaction
 * takes an advisory lock on the schema's migration table and re-checks before applying.
 *
 * @throws MigrationError naming the failing migration and statement, with the server's error as `cause`.
 */
export async function migrate(db: Database, migrations: readonly Migration[]): Promise<string[]> {
  validate(migrations);
  const lock = `SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.${MIGRATIONS_TABLE}'))`;
  await db.transaction(async (tx) => {
    await tx.query(lock);
    await tx.query(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  const done = new Set((await db.query<{ id: string }>(`SELECT id FROM ${MIGRATIONS_TABLE}`)).map((r) => r.id));
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.id)) continue;
    const ran = await db.transaction(async (tx) => {
      await tx.query(lock);
      if ((await tx.query(`SELECT 1 FROM ${MIGRATIONS_TABLE} WHERE id = $1`, [m.id])).length > 0) return false; // another instance was first
      for (const [i, statement] of m.statements.entries()) {
        try {
          await tx.query(statement);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          const code = error instanceof DatabaseError ? error.code : undefined;
          throw new MigrationError(m.id, `statement ${i + 1} of ${m.statements.length}: ${reason}`, { code, cause: error });
        }
      }
      await tx.query(`INSERT INTO ${MIGRATIONS_TABLE} (id) VALUES ($1)`, [m.id]);
      return true;
    });
    if (ran) applied.push(m.id);
  }
  return applied;
}
