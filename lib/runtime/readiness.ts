/**
 * Readiness: whether a service can do its job right now, from named checks of what it depends on
 * (its NATS connection, its store). A service whose NATS connection is lost still answers reads,
 * but it cannot publish or consume, so it asks not to be sent work (/readyz 503, grpc.health.v1
 * NOT_SERVING) until the dependency is back. Liveness (/healthz) is apart: a lost dependency is no
 * reason to restart the process.
 */

/** One named condition; see {@link createReadiness}. */
export interface ReadinessCheck {
  /** Short name shown in /readyz (`nats`, `store`, `database`). */
  readonly name: string;
  /**
   * `undefined` when the dependency is usable, else a short reason (`connection lost`). Must be
   * cheap: it runs about once a second and on every /readyz; a check that throws fails with the
   * error's message, one that takes longer than the timeout fails as not answering.
   */
  check(): string | undefined | Promise<string | undefined>;
}

/** The outcome of the checks at one moment, as /readyz answers it (JSON). */
export interface ReadinessReport {
  readonly status: 'ready' | 'not ready';
  /** Why not, when not ready: the failing checks as `name: reason`, joined by `; `. */
  readonly reason?: string;
  /** Every check by name: `ok` or its reason. */
  readonly checks: Readonly<Record<string, string>>;
}

/** Options of {@link createReadiness}. Durations are milliseconds. */
export interface ReadinessOptions {
  /** How long one check may take before it counts as failing, in ms. Default 1 000. */
  timeoutMs?: number;
  /** Called once per change between ready and not ready while started (not for start-up or stopping). */
  onChange?: (report: ReadinessReport) => void;
}

/** Readiness that combines named checks with whether start-up has finished. */
export interface Readiness {
  /** Adds a check (names should be unique: a later one with the same name hides the earlier in the report). */
  add(check: ReadinessCheck): void;
  /** Whether start-up has finished (false again while stopping); with this false, nothing else counts. */
  setStarted(started: boolean): void;
  /** Runs every check now (bounded by the timeout; concurrent calls share one run) and returns the report. */
  evaluate(): Promise<ReadinessReport>;
  /** The last report evaluated. */
  current(): ReadinessReport;
}

const NOT_STARTED: ReadinessReport = { status: 'not ready', reason: 'starting', checks: {} };

/** Creates a {@link Readiness}; not ready until `setStarted(true)`. */
export function createReadiness(checks: readonly ReadinessCheck[] = [], options: ReadinessOptions = {}): Readiness {
  const timeoutMs = options.timeoutMs ?? 1_000;
  const all = [...checks];
  let started = false;
  let everStarted = false;
  let last: ReadinessReport = NOT_STARTED;
  /** Whether `last` was made while started: only changes between two such reports are news. */
  let lastStarted = false;
  let running: Promise<ReadinessReport> | undefined;

  const publish = (report: ReadinessReport, whileStarted: boolean) => {
    const changed = report.status !== last.status && lastStarted && whileStarted;
    last = report;
    lastStarted = whileStarted;
    if (changed) options.onChange?.(report);
    return report;
  };

  const run = async (): Promise<ReadinessReport> => {
    const results = await Promise.all(all.map(async (c) => [c.name, await runCheck(c, timeoutMs)] as const));
    if (!started) return publish(everStarted ? { status: 'not ready', reason: 'stopping', checks: {} } : NOT_STARTED, false);
    const failing = results.filter(([, reason]) => reason !== undefined).map(([name, reason]) => `${name}: ${reason}`);
    const report: ReadinessReport = {
      status: failing.length ? 'not ready' : 'ready',
      ...(failing.length ? { reason: failing.join('; ') } : {}),
      checks: Object.fromEntries(results.map(([name, reason]) => [name, reason ?? 'ok'])),
    };
    return publish(report, true);
  };

  return {
    add: (check) => void all.push(check),
    setStarted(value) {
      started = value;
      if (value) everStarted = true;
    },
    evaluate() {
      running ??= run().finally(() => (running = undefined));
      return running;
    },
    current: () => last,
  };
}

/** Runs one check, turning a throw or a timeout into a reason; never rejects. */
async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => check.check()), timeout]);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

/** The query side of a store or database, enough to ask "are you there?". */
interface Pingable {
  readonly driver: string;
  query(sql: string): Promise<unknown>;
}

/** Drivers that run inside the process: reachable whenever the process is, so never queried. */
const EMBEDDED = new Set(['chdb', 'pglite']);

/**
 * A check that the service's store or database server answers `SELECT 1` (ClickHouse over HTTP,
 * PostgreSQL over `pg`). Embedded engines (chdb, PGlite) are not queried: they live in the
 * process, and a query there would only compete with real work.
 */
export function queryCheck(name: string, target: Pingable): ReadinessCheck {
  return {
    name,
    async check() {
      if (EMBEDDED.has(target.driver)) return undefined;
      try {
        await target.query('SELECT 1');
        return undefined;
      } catch (error) {
        return `${target.driver} unreachable: ${error instanceof Error ? error.message : String(error)}`;
      }
    },
  };
}
