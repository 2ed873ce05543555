/**
 * Keeps a server stream open: opens it, hands each message over, and when it ends or fails opens
 * it again after a backoff (1 s doubling to 30 s, reset by a message), until stopped. Streams
 * through proxies and load balancers are cut from time to time; the page must not notice.
 */
import { describeError, needsKey } from './api.js';

/** What a followed stream reports besides its messages. */
export type StreamState = { state: 'open' } | { state: 'retrying'; inMs: number; error: string } | { state: 'needs-key' };

/** Follows a stream; returns a function that stops it. */
export function follow<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  onMessage: (message: T) => void,
  onState: (state: StreamState) => void = () => {},
): () => void {
  const controller = new AbortController();
  let delay = 1000;
  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        onState({ state: 'open' });
        for await (const message of open(controller.signal)) {
          delay = 1000;
          onMessage(message);
        }
        if (controller.signal.aborted) return;
        onState({ state: 'retrying', inMs: delay, error: 'the stream ended' });
      } catch (error) {
        if (controller.signal.aborted) return;
        if (needsKey(error)) {
          onState({ state: 'needs-key' });
          return;
        }
        onState({ state: 'retrying', inMs: delay, error: describeError(error) });
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  };
  void run();
  return () => controller.abort();
}
