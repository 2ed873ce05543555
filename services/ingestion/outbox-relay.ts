import { publishOutbox, type CommitDeps } from './commit-batch.js';

/** Options of {@link startOutboxRelay}. */
export interface OutboxRelayOptions {
  /** Pause between sweeps of the outbox, in milliseconds. */
  intervalMs: number;
  /** Events re-sent per sweep at most. */
  batchSize?: number;
}

/**
 * Re-sends events that JetStream has not acknowledged (NATS was down, or the process died between
 * storing bars and publishing). Sweeps once at start, then every `intervalMs`; stop() waits for a
 * sweep in progress.
 */
export function startOutboxRelay(deps: CommitDeps, options: OutboxRelayOptions): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const sweep = () => {
    running ??= (async () => {
      try {
        const unsent = await deps.bars.unsent(options.batchSize ?? 500);
        if (unsent.length === 0) return;
        const sent = await publishOutbox(deps, unsent);
        deps.logger.info({ resent: sent, pending: unsent.length - sent }, 'outbox relay re-sent events');
      } catch (error) {
        deps.logger.warn({ err: error }, 'outbox sweep failed');
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  void sweep();
  const timer = setInterval(sweep, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
