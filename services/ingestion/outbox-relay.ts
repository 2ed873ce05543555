import { barsIngested, publishPending, type CommitDeps } from './commit-batch.js';

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
        const unsent = await deps.bars.unsent(options.batchSize ?? 100);
        if (unsent.length === 0) return;
        const pending = [];
        for (const entry of unsent) {
          // The stored bars of the event's range: the announced bars as they now stand.
          const bars = await deps.bars.page(entry.symbol, entry.firstDate, entry.lastDate, undefined, 1_000_000);
          pending.push({ entry, event: barsIngested(entry, bars) });
        }
        const sent = await publishPending(deps, pending);
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
