import type { ModelChange } from '../../gen/nepse/registry/v1/registry_pb.js';

/** Changes a watcher may fall behind by before it is cut off (it reconnects with include_existing). */
export const MAX_PENDING_CHANGES = 1000;

/** Why a subscription ended. */
export type SubscriptionEnd = 'closed' | 'overflow';

/** What waiting on a subscription gives: a change, nothing within the wait, or the end. */
export type Next = { change: ModelChange } | { idle: true } | { ended: SubscriptionEnd };

/** One watcher's view of the feed. */
export interface ChangeSubscription {
  /** The next change; `{ idle }` after `waitMs` without one, `{ ended }` once the feed is gone. */
  next(waitMs: number, signal: AbortSignal): Promise<Next>;
  /** Leaves the feed. */
  close(): void;
}

class Subscriber implements ChangeSubscription {
  readonly queue: ModelChange[] = [];
  ended: SubscriptionEnd | undefined;
  wake: (() => void) | undefined;

  constructor(
    readonly name: string | undefined,
    private readonly leave: (s: Subscriber) => void,
  ) {}

  push(change: ModelChange): void {
    if (this.ended) return;
    if (this.queue.length >= MAX_PENDING_CHANGES) return this.end('overflow');
    this.queue.push(change);
    this.wake?.();
  }

  end(reason: SubscriptionEnd): void {
    this.ended ??= reason;
    this.queue.length = 0;
    this.leave(this);
    this.wake?.();
  }

  async next(waitMs: number, signal: AbortSignal): Promise<Next> {
    if (this.ended) return { ended: this.ended };
    if (this.queue.length === 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        signal.addEventListener('abort', done, { once: true });
        this.wake = done;
      });
    }
    if (this.ended) return { ended: this.ended };
    const change = this.queue.shift();
    return change ? { change } : { idle: true };
  }

  close(): void {
    this.end('closed');
  }
}

/**
 * The registry's in-process feed of model changes: every committed change (registration, stage,
 * alias, status) is published here after its transaction, and each WatchModels stream reads its
 * own bounded queue of it. A watcher that falls {@link MAX_PENDING_CHANGES} behind is cut off
 * rather than letting the queue grow without bound.
 */
export class ModelChanges {
  readonly #subscribers = new Set<Subscriber>();

  /** Subscribes to changes of one model name, or of every name. */
  subscribe(name?: string): ChangeSubscription {
    const subscriber = new Subscriber(name, (s) => this.#subscribers.delete(s));
    this.#subscribers.add(subscriber);
    return subscriber;
  }

  /** Hands a committed change to every matching watcher. */
  publish(change: ModelChange): void {
    const name = change.modelVersion?.name;
    for (const s of [...this.#subscribers]) if (s.name === undefined || s.name === name) s.push(change);
  }

  /** Number of watchers (metrics, tests). */
  get size(): number {
    return this.#subscribers.size;
  }

  /** Ends every subscription, e.g. at shutdown so watch streams end instead of holding it up. */
  close(): void {
    for (const s of [...this.#subscribers]) s.end('closed');
  }
}
