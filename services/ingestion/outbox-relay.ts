import { barsIngested, publishPending, type CommitDeps } from './commit-batch.js';
import type { OutboxEntry } from './store.js';

/** Options of {@link startOutboxRelay}. */
export interface OutboxRelayOptions {
  /** Pause between sweeps of the outbox, in milliseconds. */
  intervalMs: number;
  /** Events re-sent per sweep at most. */
  batchSize?: number;
}

/** What one pass of the relay did. */
export interface RelayPass {
  /** Events published and acknowledged. */
  resent: number;
  /** Events whose bars were never written (their commit failed after recording them): not sent, and skipped from now on. */
  setAside: number;
  /** Events the pass read and did not send otherwise: a commit held their symbol or had sent them meanwhile, or NATS failed. */
  left: number;
}

/**
 * One pass over the outbox: re-sends the oldest unsent events, symbol by symbol, each while holding
 * its symbol in the gate. A symbol that a commit (which publishes its own events) holds is skipped,
 * and the events are read again once held, since a commit may have sent them in between; so no
 * event still in flight is ever sent a second time. An event whose bars were never stored is set
 * aside, not sent. Stops at the first failed publish.
 */
export async function relayOutbox(deps: CommitDeps, batchSize: number): Promise<RelayPass> {
  const unsent = await deps.bars.unsent(batchSize, deps.gate.busySymbols());
  const bySymbol = new Map<string, OutboxEntry[]>();
  for (const entry of unsent) {
    const entries = bySymbol.get(entry.symbol);
    if (entries) entries.push(entry);
    else bySymbol.set(entry.symbol, [entry]);
  }
  let resent = 0;
  let orphaned = 0;
  for (const [symbol, entries] of bySymbol) {
    const failed = await deps.gate.ifFree(symbol, async () => {
      const still = await deps.bars.stillUnsent(entries.map((e) => e.msgId));
      const pending = [];
      for (const entry of entries) {
        if (!still.has(entry.msgId)) continue;
        // Its commit failed between the outbox and the bars (a full disk): nothing to announce,
        // and the caller was told so. A retry records it again and sends it itself.
        if (!(await deps.bars.barsWritten(entry))) {
          deps.bars.setAside(entry);
          deps.logger.warn({ msgId: entry.msgId, symbol: entry.symbol }, 'outbox event without its bars set aside');
          orphaned++;
          continue;
        }
        // The stored bars of the event's range: the announced bars as they now stand.
        const bars = await deps.bars.page(entry.symbol, entry.firstDate, entry.lastDate, undefined, 1_000_000);
        pending.push({ entry, event: barsIngested(entry, bars) });
      }
      const sent = await publishPending(deps, pending);
      resent += sent;
      return sent < pending.length;
    });
    // NATS is not taking events: the rest would only wait for the same timeout.
    if (failed) break;
  }
  return { resent, setAside: orphaned, left: unsent.length - resent - orphaned };
}

/**
 * Re-sends events that JetStream has not acknowledged (NATS was down, or the process died between
 * storing bars and publishing), by {@link relayOutbox}. Sweeps once at start, then every
 * `intervalMs`; one sweep at a time, and stop() waits for a sweep in progress.
 */
export function startOutboxRelay(deps: CommitDeps, options: OutboxRelayOptions): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const sweep = () => {
    running ??= (async () => {
      try {
        const pass = await relayOutbox(deps, options.batchSize ?? 100);
        if (pass.resent > 0) deps.logger.info({ resent: pass.resent, pending: pass.left }, 'outbox relay re-sent events');
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
