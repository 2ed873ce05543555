/**
 * Test helpers: a throw-away database on a real PostgreSQL server, dropped afterwards. The server
 * is TEST_POSTGRES_URL when set, otherwise the one on 127.0.0.1:5432 (trust auth, user
 * `postgres` or the login user). Kept apart from the kit's entry so services never load it.
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';

/** A database created for one test run. */
export interface ThrowawayDatabase {
  /** Its connection URL, for `openDatabase({ url })` or DATABASE_URL. */
  readonly url: string;
  /** Its name, `nepse_test_<random>`. */
  readonly name: string;
  /** Drops it, closing any connection still open to it. Idempotent. */
  drop(): Promise<void>;
}

/** The outcome of {@link createThrowawayDatabase}: a database, or why there is none. */
export type ThrowawayResult = { database: ThrowawayDatabase; skip?: undefined } | { database?: undefined; skip: string };

/** Codes that mean "no server there", the one reason to skip rather than fail. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

function candidates(): string[] {
  if (process.env.TEST_POSTGRES_URL) return [process.env.TEST_POSTGRES_URL];
  const users = [...new Set(['postgres', safeUser(), 'root'].filter(Boolean))];
  return users.map((user) => `postgres://${user}@127.0.0.1:5432/postgres`);
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/**
 * Creates `nepse_test_<random>` on the test server. Answers `{ skip }` only when no server is
 * reachable; a server that answers but refuses (authentication, permissions) fails the run.
 */
export async function createThrowawayDatabase(): Promise<ThrowawayResult> {
  let lastError: unknown;
  for (const admin of candidates()) {
    const client = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 3_000 });
    try {
      await client.connect();
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (UNREACHABLE.has(code) || /timeout/i.test((error as Error).message)) {
        return { skip: `no PostgreSQL server reachable at ${new URL(admin).host} (${code || (error as Error).message})` };
      }
      lastError = error; // e.g. this role does not exist: try the next user
      await client.end().catch(() => {});
      continue;
    }
    const name = `nepse_test_${randomBytes(6).toString('hex')}`;
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    let dropped: Promise<void> | undefined;
    return {
      database: {
        url: withDatabase(admin, name),
        name,
        drop() {
          dropped ??= (async () => {
            const c = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 3_000 });
            await c.connect();
            try {
              await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            } finally {
              await c.end();
            }
          })();
          return dropped;
        },
      },
    };
  }
  throw new Error(`PostgreSQL answered but refused every candidate user: ${(lastError as Error)?.message}`, { cause: lastError });
}
