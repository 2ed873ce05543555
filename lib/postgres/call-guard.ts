import { AsyncLocalStorage } from 'node:async_hooks';
import { DatabaseError, DatabaseUnavailableError } from './errors.js';
import type { IsolationLevel } from './types.js';

/** The transaction whose callback the current async flow runs in, if any. */
interface TransactionScope {
  readonly owner: object;
  open: boolean;
}

const scope = new AsyncLocalStorage<TransactionScope>();

/**
 * What both drivers share around every call: refuse calls once closed, refuse a database's own
 * calls from inside one of its transactions (a self-deadlock on PGlite, a silent escape from the
 * transaction on `pg`), and remember calls in flight so close() can wait for them.
 */
export class CallGuard {
  readonly #calls = new Set<Promise<unknown>>();
  #closed = false;

  constructor(
    private readonly owner: object,
    private readonly label: string,
  ) {}

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Starts `work` unless the database is closed or this flow is inside its transaction. */
  run<T>(sql: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new DatabaseUnavailableError(`${this.label} is closed`, { sql }));
    const current = scope.getStore();
    if (current?.owner === this.owner && current.open) {
      return Promise.reject(
        new DatabaseError('the database was called from inside one of its own transactions: use the transaction handle (tx) instead', {
          sql,
        }),
      );
    }
    const call = work();
    this.#calls.add(call);
    const forget = () => this.#calls.delete(call);
    call.then(forget, forget);
    return call;
  }

  /**
   * Runs a transaction's callback in a scope that marks this database as busy with it, and hands
   * the callback a check that fails once the transaction has finished (a handle kept too long).
   */
  async withinTransaction<T>(fn: (ensureOpen: (sql: string) => void) => Promise<T>): Promise<T> {
    const marker: TransactionScope = { owner: this.owner, open: true };
    const ensureOpen = (sql: string) => {
      if (!marker.open) throw new DatabaseError('the transaction has already finished', { sql });
    };
    try {
      return await scope.run(marker, () => fn(ensureOpen));
    } finally {
      marker.open = false;
    }
  }

  /** Refuses new calls and resolves once every call started so far has settled. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#calls]);
  }
}

/** The BEGIN statement of a transaction at the given isolation level. */
export function beginStatement(isolation: IsolationLevel | undefined): string {
  if (isolation === undefined) return 'BEGIN';
  if (isolation !== 'read committed' && isolation !== 'repeatable read' && isolation !== 'serializable') {
    throw new DatabaseError(`unknown isolation level ${JSON.stringify(isolation)}`);
  }
  return `BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}`;
}

/** Schema names this kit accepts: unquoted PostgreSQL identifiers, so they never need escaping. */
export function validSchema(schema: string | undefined): string {
  const name = schema ?? 'public';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new DatabaseError(`invalid schema name ${JSON.stringify(name)}: use [a-z_][a-z0-9_]*, at most 63 characters`);
  return name;
}
