/**
 * Two sides measured in alternating rounds (A, B, A, B, …) and compared. On a shared machine the
 * load from everything else drifts over seconds; alternating short rounds puts that drift on both
 * sides alike, and the ratio of each adjacent pair is taken close together in time. A side's
 * figures are its total calls over its total time and the medians of its rounds' p50, p99 and CPU
 * per call; a ratio is the median over the pairs of B's figure over A's.
 */
import { runLoad, type LoadResult } from './load.js';

/** Pairs of rounds a comparison runs at each concurrency. */
export const PAIRS = 6;
/** Measured length of a round, and the warm-up before it, in ms. */
export const ROUND_MS = 1_000;
export const ROUND_WARMUP_MS = 250;
/**
 * Load at concurrency 16 that each server gets before its first round, in ms. Processes start cold
 * (V8 compiles the hot paths of grpc-js, protobuf and the handlers only after thousands of calls),
 * and a server is measured warm, as it serves in production.
 */
export const PRIME_MS = 3_000;

/** One round: its load, and the measured server's CPU time per call, in µs. */
export interface Round extends LoadResult {
  cpuUsPerCall: number;
}

/** One side's rounds, and their summary. */
export interface Side {
  rounds: Round[];
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Median of the rounds' CPU µs per call. */
  cpuUsPerCall: number;
  errors: number;
}

/** The median of `xs` (the mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The summary of one side's rounds. */
export function summarise(rounds: Round[]): Side {
  const requests = rounds.reduce((n, r) => n + r.requests, 0);
  const seconds = rounds.reduce((n, r) => n + r.seconds, 0);
  return {
    rounds,
    perSecond: seconds > 0 ? requests / seconds : 0,
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    cpuUsPerCall: median(rounds.map((r) => r.cpuUsPerCall)),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
  };
}

/** B over A of a figure: the median over adjacent pairs of rounds (a[i] was measured just before b[i]). */
export function pairRatio(a: Side, b: Side, figure: (r: Round) => number): number {
  return median(a.rounds.map((round, i) => figure(b.rounds[i]) / figure(round)));
}

/**
 * Runs `pairs` pairs of rounds, `a` then `b` in each, and summarises each side.
 * @param a one round of side A (it measures its own server's CPU)
 */
export async function alternate(pairs: number, a: () => Promise<Round>, b: () => Promise<Round>): Promise<{ a: Side; b: Side }> {
  const rounds = { a: [] as Round[], b: [] as Round[] };
  for (let i = 0; i < pairs; i++) {
    rounds.a.push(await a());
    rounds.b.push(await b());
  }
  return { a: summarise(rounds.a), b: summarise(rounds.b) };
}

/**
 * A round of `run`, with the CPU time of a server (`cpuSeconds`: its CPU so far) per call that `run`
 * reports; `calls` counts the warm-up's calls too, as the CPU read spans the warm-up.
 */
export async function roundOf(cpuSeconds: () => number, run: () => Promise<LoadResult & { calls: number }>): Promise<Round> {
  const before = cpuSeconds();
  const result = await run();
  return { ...result, cpuUsPerCall: ((cpuSeconds() - before) / result.calls) * 1e6 };
}

/** One round of `call` at `concurrency` ({@link ROUND_MS} after {@link ROUND_WARMUP_MS}), measuring the server `cpuSeconds` reads. */
export function loadRound(concurrency: number, call: () => Promise<unknown>, cpuSeconds: () => number): Promise<Round> {
  return roundOf(cpuSeconds, async () => {
    let calls = 0;
    const counted = () => call().then(() => void calls++);
    return { ...(await runLoad({ concurrency, durationMs: ROUND_MS, warmupMs: ROUND_WARMUP_MS, call: counted })), calls };
  });
}
