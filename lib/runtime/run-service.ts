/**
 * The whole life of a service process, for its main.ts to wire: read the configuration, start,
 * stop on SIGTERM/SIGINT; and when start-up fails, one JSON log line that says what is wrong and
 * how to fix it, then a non-zero exit, never a raw stack or a hang.
 */
import { setFlagsFromString } from 'node:v8';
import { createLogger, type Logger } from '../telemetry/index.js';
import { stopOnSignals } from './host.js';
import { explainStartupError } from './startup-error.js';

/** A started service: what `stop()` undoes on a signal. */
export interface StartedService {
  stop(): Promise<void>;
}

/** Options of {@link runService}. */
export interface RunServiceOptions<C> {
  /** Reads and validates the configuration (throws ConfigError). */
  config: () => C;
  /** Starts the service; resolves once it is ready. */
  start: (config: C, logger: Logger) => Promise<StartedService>;
  /**
   * How long start-up may take before the process gives up, in ms. Default 180 000: each
   * dependency's own wait is bounded far below it; this catches whatever is not.
   */
  startTimeoutMs?: number;
  /** Exit code of a failed start. Default 1. */
  exitCode?: number;
}

// Every service keeps the WebAssembly code it compiled (PGlite, and undici's HTTP parser behind
// fetch): V8 in Node 24 can abort while freeing tiered-up code, and beside chdb that abort hangs the
// process instead of ending it. The full story is in lib/postgres/pglite-driver.ts.
setFlagsFromString('--no-wasm-code-gc');

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/**
 * Runs service `name`: config, logger, start, stop on signals. A failed start (bad config, NATS,
 * PostgreSQL or ClickHouse unreachable, a port taken, or start-up over time) logs exactly one line
 * at `fatal` with the explanation (`msg`), the variable at fault and the cause, and exits 1.
 */
export async function runService<C extends { LOG_LEVEL?: string }>(name: string, options: RunServiceOptions<C>): Promise<void> {
  // LOG_LEVEL itself may be what is wrong: log the failure at a level that is always valid.
  const envLevel = process.env.LOG_LEVEL;
  let logger = createLogger(name, envLevel && LEVELS.has(envLevel) ? envLevel : 'info');
  let config: C | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    config = options.config();
    logger = createLogger(name, config.LOG_LEVEL ?? 'info');
    const startTimeoutMs = options.startTimeoutMs ?? 180_000;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StartTimeoutError(`${name} did not finish starting within ${startTimeoutMs / 1000} s`)),
        startTimeoutMs,
      );
    });
    const service = await Promise.race([options.start(config, logger), timeout]);
    clearTimeout(timer);
    stopOnSignals(() => service.stop(), logger);
  } catch (error) {
    clearTimeout(timer);
    const problem = explainStartupError(error, name, process.env, config as Record<string, unknown> | undefined);
    const cause = (error instanceof Error ? error.message : String(error)).replace(/\n\s*/g, ' ');
    // One line, whatever the error: the stack only when the error was not recognised.
    logger.fatal({ variable: problem.variable, cause, ...(problem.known ? {} : { err: error }) }, problem.message);
    const exit = () => process.exit(options.exitCode ?? 1);
    // Let the line reach stdout before exiting; a stuck stdout must not hold the exit.
    setTimeout(exit, 1_000).unref();
    logger.flush(exit);
  }
}

/** Start-up took longer than {@link RunServiceOptions.startTimeoutMs}. */
class StartTimeoutError extends Error {
  override readonly name = 'StartTimeoutError';
}
