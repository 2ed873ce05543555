/**
 * Keeps a child process running, the way `make dev` keeps the local nats-server and each service
 * up: an exit nobody asked for is reported in one line and the child is started again after a
 * pause that doubles with each quick failure; a child that keeps dying is given up on, loudly.
 */
import type { ChildProcess } from 'node:child_process';

/** How a child process ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A started child, as the supervisor sees it. */
export interface SupervisedChild {
  /** Resolves when the process has exited, whoever ended it. */
  readonly exited: Promise<ChildExit>;
  /** Ends it on purpose; resolves once it is gone. */
  stop(): Promise<void>;
}

/** Options of {@link supervise}. Durations are milliseconds. */
export interface SuperviseOptions<C extends SupervisedChild> {
  /** Shown in every line (`ingestion`, `nats-server`). */
  name: string;
  /** Starts the child and resolves once it serves; rejects when it cannot (counted as a failure). */
  start(): Promise<C>;
  /** First pause before a restart, in ms. Default 1 000. */
  initialDelayMs?: number;
  /** Longest pause before a restart, in ms. Default 30 000. */
  maxDelayMs?: number;
  /** A child that stayed up this long had recovered: the next pause starts again from the first, in ms. Default 60 000. */
  stableAfterMs?: number;
  /** Restarts allowed within `windowMs`; one more and the child is given up on. Default 5. */
  maxRestarts?: number;
  /** The window `maxRestarts` counts in, in ms. Default 300 000 (5 min). */
  windowMs?: number;
  /** Where the report lines go. Default stderr. */
  log?: (line: string) => void;
  /** Called once a restarted child serves again. */
  onRestarted?: (child: C) => void;
  /** Called when the child is given up on. */
  onGiveUp?: () => void;
}

/** A supervised child; see {@link supervise}. */
export interface Supervisor<C extends SupervisedChild> {
  readonly name: string;
  /** `running`, `restarting` (waiting or starting again), `gave up`, or `stopped`. */
  readonly state: 'running' | 'restarting' | 'gave up' | 'stopped';
  /** Restarts so far. */
  readonly restarts: number;
  /** The child serving now, if any. */
  readonly child: C | undefined;
  /** Stops supervising and stops the child (waiting for a start in progress). Idempotent. */
  stop(): Promise<void>;
}

/** `code 1` or `signal SIGKILL`. */
export function describeExit(exit: ChildExit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/** The exit of a Node child process as a promise, also when it has already exited. */
export function exitOf(child: ChildProcess): Promise<ChildExit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // A spawn that failed (no such binary) emits `error` and maybe no `exit`.
    child.once('error', () => resolve({ code: child.exitCode ?? -1, signal: child.signalCode }));
  });
}

/** A duration for humans: `500 ms`, `2 s`, `5 min`. */
function human(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000 || ms % 60_000 !== 0) return `${Math.round(ms / 100) / 10} s`;
  return `${ms / 60_000} min`;
}

/**
 * Starts the child (rejecting if that first start fails) and keeps it running: after an
 * unexpected exit, one line says which and how (`make dev: ingestion exited unexpectedly (code
 * 1); restarting in 1 s, restart 1 of at most 5 in 5 min`), and the child is started again after
 * `initialDelayMs`, doubling per quick failure up to `maxDelayMs`. More than `maxRestarts` restarts
 * within `windowMs` and it is given up on with a line that says so.
 */
export async function supervise<C extends SupervisedChild>(options: SuperviseOptions<C>): Promise<Supervisor<C>> {
  const initialDelayMs = options.initialDelayMs ?? 1_000;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const stableAfterMs = options.stableAfterMs ?? 60_000;
  const maxRestarts = options.maxRestarts ?? 5;
  const windowMs = options.windowMs ?? 300_000;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const name = options.name;

  let state: Supervisor<C>['state'] = 'running';
  let child: C | undefined = await options.start();
  let startedAt = Date.now();
  let restarts = 0;
  /** Quick failures in a row: the exponent of the next pause. */
  let failures = 0;
  const restartTimes: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  let starting: Promise<C | undefined> | undefined;

  const giveUp = (why: string) => {
    state = 'gave up';
    log(
      `make dev: ${why}; giving up on ${name} (more than ${maxRestarts} restarts in ${human(windowMs)}): see its log above, fix it, and run make dev again`,
    );
    options.onGiveUp?.();
  };

  /** Plans the next start after a failure described by `why`. */
  const scheduleRestart = (why: string) => {
    const now = Date.now();
    while (restartTimes.length && now - restartTimes[0] > windowMs) restartTimes.shift();
    if (restartTimes.length >= maxRestarts) return giveUp(why);
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** failures);
    failures++;
    restartTimes.push(now);
    restarts++;
    state = 'restarting';
    log(`make dev: ${why}; restarting in ${human(delay)} (restart ${restartTimes.length} of at most ${maxRestarts} in ${human(windowMs)})`);
    timer = setTimeout(() => {
      timer = undefined;
      starting = options.start().then(
        (started) => {
          starting = undefined;
          if (state !== 'restarting') {
            // Stopped while starting: the stop already waited for this promise and stops the child.
            return started;
          }
          child = started;
          startedAt = Date.now();
          state = 'running';
          log(`make dev: ${name} is back`);
          options.onRestarted?.(started);
          watch(started);
          return started;
        },
        (error: unknown) => {
          starting = undefined;
          if (state !== 'restarting') return undefined;
          scheduleRestart(`${name} failed to start again (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
          return undefined;
        },
      );
    }, delay);
  };

  const watch = (current: C) => {
    void current.exited.then((exit) => {
      if (state !== 'running' || child !== current) return;
      child = undefined;
      // A child that had stayed up a while had recovered: its exit is a new trouble, not the same one.
      if (Date.now() - startedAt >= stableAfterMs) failures = 0;
      scheduleRestart(`${name} exited unexpectedly (${describeExit(exit)})`);
    });
  };
  watch(child);

  let stopped: Promise<void> | undefined;
  return {
    name,
    get state() {
      return state;
    },
    get restarts() {
      return restarts;
    },
    get child() {
      return child;
    },
    stop() {
      stopped ??= (async () => {
        state = 'stopped';
        if (timer) clearTimeout(timer);
        const late = await starting;
        await Promise.all([child?.stop(), late?.stop()]);
        child = undefined;
      })();
      return stopped;
    },
  };
}
