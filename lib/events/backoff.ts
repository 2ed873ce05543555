/** Redelivery delays for failed handlers: a per-attempt schedule plus jitter. */

/** Default delays before redelivery after the 1st, 2nd, 3rd, … failure, in milliseconds. */
export const DEFAULT_BACKOFF_MS: readonly number[] = Object.freeze([1_000, 5_000, 15_000, 30_000]);

/** Default jitter: each delay is drawn uniformly from ±20 % of the scheduled one. */
export const DEFAULT_JITTER = 0.2;

/**
 * The delay before the next delivery after delivery number `deliveryCount` (1-based) failed, in
 * milliseconds. The schedule's last entry repeats for later attempts. Jitter spreads the retries
 * of many consumers that failed together (say, on a database outage) so they do not return in
 * lock-step.
 *
 * @param deliveryCount the failed delivery, 1 for the first.
 * @param backoffMs schedule in milliseconds; empty means redeliver at once.
 * @param jitter fraction in [0, 1]: the delay is drawn from `[d·(1−jitter), d·(1+jitter)]`.
 * @param random source of uniform numbers in [0, 1), replaceable in tests.
 */
export function retryDelayMs(
  deliveryCount: number,
  backoffMs: readonly number[] = DEFAULT_BACKOFF_MS,
  jitter: number = DEFAULT_JITTER,
  random: () => number = Math.random,
): number {
  if (backoffMs.length === 0) return 0;
  const index = Math.min(Math.max(Math.floor(deliveryCount) - 1, 0), backoffMs.length - 1);
  const base = Math.max(0, backoffMs[index] ?? 0);
  const j = Math.min(Math.max(jitter, 0), 1);
  return Math.max(0, Math.round(base * (1 - j + 2 * j * random())));
}

/** Checks a backoff schedule: finite, non-negative milliseconds. */
export function isValidBackoff(backoffMs: readonly number[]): boolean {
  return backoffMs.every((d) => Number.isFinite(d) && d >= 0);
}
