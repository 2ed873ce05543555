/**
 * Deterministic bar series for tests and benchmarks of feature sets: the same seed gives the same
 * bars on every machine, so a failing comparison can be replayed exactly.
 */
import type { DailyBar } from './feature-set.js';

/** A seeded pseudo-random generator (mulberry32) returning uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link randomWalkBars}. */
export interface RandomWalkOptions {
  /** PRNG seed. Default 1. */
  seed?: number;
  /** First close, currency units per share. Default 500. */
  startPrice?: number;
  /** Standard deviation of the daily log return, daily units. Default 0.02. */
  dailyVolatility?: number;
  /** First trading day, ISO. Default 2020-01-01. */
  startDate?: string;
  /** Whether bars carry turnover: always, never, or on about half of them. Default 'always'. */
  turnover?: 'always' | 'never' | 'sometimes';
}

/**
 * `count` bars of a geometric random walk on NEPSE sessions (Sunday–Thursday), with consistent
 * OHLC (low <= open, close <= high), volumes in [1e3, 1e5) shares, and turnover near close × volume.
 */
export function randomWalkBars(count: number, options: RandomWalkOptions = {}): DailyBar[] {
  const random = seededRandom(options.seed ?? 1);
  const gaussian = () => {
    const u = 1 - random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const sigma = options.dailyVolatility ?? 0.02;
  const turnover = options.turnover ?? 'always';
  let close = options.startPrice ?? 500;
  const day = new Date(`${options.startDate ?? '2020-01-01'}T00:00:00Z`);
  const bars: DailyBar[] = [];
  while (bars.length < count) {
    const dow = day.getUTCDay();
    if (dow <= 4) {
      const open = close * Math.exp(sigma * 0.3 * gaussian());
      close = close * Math.exp(sigma * gaussian());
      const high = Math.max(open, close) * (1 + sigma * random());
      const low = Math.min(open, close) * (1 - sigma * random());
      const volume = Math.floor(1e3 + random() * 99e3);
      const bar: DailyBar = { date: day.toISOString().slice(0, 10), open, high, low, close, volume };
      if (turnover === 'always' || (turnover === 'sometimes' && random() < 0.5)) {
        bar.turnover = close * volume * (0.98 + 0.04 * random());
      }
      bars.push(bar);
    }
    day.setUTCDate(day.getUTCDate() + 1);
  }
  return bars;
}

/** ISO day `offset` calendar days after `start`. */
export function addDays(start: string, offset: number): string {
  const day = new Date(`${start}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + offset);
  return day.toISOString().slice(0, 10);
}
