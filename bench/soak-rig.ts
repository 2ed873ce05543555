/**
 * What `make soak` runs on: the six services each as its own process (so each has its own RSS) on
 * a test network, a market imported through ImportCsv, a model in Production, and the background
 * traffic besides Predict: a CSV import of the next session every 10 s, a StreamPredictions stream
 * and a WatchPredictions stream held open the whole time, training jobs, and promotions through
 * the saga. Every failure of that traffic is counted in {@link Tally}.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Algorithm, JobState } from '../gen/nepse/training/v1/training_pb.js';
import { Stage } from '../gen/nepse/registry/v1/registry_pb.js';
import { tradingDays } from '../lib/market/index.js';
import { generateMarket, type SampleBar } from '../scripts/sample-market.js';
import { linearModel, registerRequests, registrationFor, TestNetwork, WIDTH } from '../testing/index.js';

/** Services the soak boots, each as its own process. */
export const SOAK_SERVICES = ['ingestion', 'feature', 'registry', 'training', 'prediction', 'monitoring'] as const;
/** Name of the model the soak serves and promotes. */
export const SOAK_MODEL = 'soak-linear';

/** Counters of one minute of background traffic; reset by the minute loop. */
export class Tally {
  errors = 0;
  imports = 0;
  streamAnswers = 0;
  watched = 0;
  jobs = 0;
  promotions = 0;
  /** The first failures, to tell what went wrong. */
  readonly failures: string[] = [];
  fail(what: string, error: unknown): void {
    this.errors++;
    if (this.failures.length < 5) this.failures.push(`${what}: ${(error as Error).message ?? String(error)}`);
  }
}

const CSV_HEADER = 'Symbol,Date,Open,High,Low,Close,Volume,Turnover\n';
const csvOf = (bars: readonly SampleBar[]) =>
  CSV_HEADER + bars.map((b) => `${b.symbol},${b.date},${b.open},${b.high},${b.low},${b.close},${b.volume},${b.turnover}`).join('\n') + '\n';
/** ImportCsv requests for `text` in chunks of 256 KiB. */
function* chunksOf(text: string) {
  const bytes = new TextEncoder().encode(text);
  yield { options: { source: 'soak' } };
  for (let at = 0; at < bytes.length; at += 256 * 1024) yield { chunk: bytes.subarray(at, at + 256 * 1024) };
}

/** The booted rig. */
export interface SoakRig {
  readonly network: TestNetwork;
  readonly symbols: readonly string[];
  /** Starts the background traffic; resolves when `signal` aborts and every loop has ended. */
  background(tally: () => Tally, signal: AbortSignal, plan: { trainEveryMinutes: number; promoteAtMs: number[] }): Promise<void>;
}

/**
 * Boots the network, imports `historyDays` sessions of `symbolCount` symbols, promotes a first
 * model and starts prediction; later sessions (up to today) are kept for the imports of the soak.
 */
export async function startSoakRig(options: { symbolCount: number; historyDays: number; soakDays: number }): Promise<SoakRig> {
  const each = { process: true } as const;
  const network = await TestNetwork.create({
    services: SOAK_SERVICES,
    readyTimeoutMs: 180_000,
    ingestion: each,
    feature: each,
    registry: each,
    training: each,
    monitoring: each,
    prediction: { ...each, deferred: true },
  });
  try {
    const days = tradingDays(options.historyDays + options.soakDays, new Date(Date.now() - 86_400_000).toISOString().slice(0, 10));
    const market = generateMarket(days, { symbols: options.symbolCount, seed: 7 });
    const symbols = [...new Set(market.map((b) => b.symbol))];
    const history = new Set(days.slice(0, options.historyDays));
    await network.client('ingestion').importCsv(chunksOf(csvOf(market.filter((b) => history.has(b.date)))), { timeoutMs: 300_000 });
    await network.processAll({ timeoutMs: 300_000 });
    const registry = network.client('registry');
    let bias = 0;
    const promote = async () => {
      const bytes = linearModel({ width: WIDTH, weights: new Array(WIDTH).fill(0.0001), bias: (bias += 0.0001) });
      const { modelVersion } = await registry.registerModel(registerRequests(registrationFor(SOAK_MODEL, WIDTH), bytes), {
        timeoutMs: 60_000,
      });
      await registry.transitionStage(
        { name: SOAK_MODEL, version: modelVersion!.version, targetStage: Stage.PRODUCTION, actor: 'soak', reason: 'soak promotion' },
        { timeoutMs: 60_000 },
      );
      return modelVersion!.version;
    };
    await promote();
    await network.service('prediction').start();
    const later = days.slice(options.historyDays);
    return {
      network,
      symbols,
      background: (tally, signal, plan) =>
        Promise.all([
          importLoop(network, market, later, tally, signal),
          streamLoop(network, symbols, tally, signal),
          watchLoop(network, symbols, tally, signal),
          trainLoop(network, symbols, plan.trainEveryMinutes, tally, signal),
          promoteLoop(network, symbols[0], plan.promoteAtMs, promote, tally, signal),
        ]).then(() => undefined),
    };
  } catch (error) {
    await network.close();
    throw error;
  }
}

const pause = (ms: number, signal: AbortSignal) =>
  sleep(ms, undefined, { signal }).then(
    () => true,
    () => false,
  );

/** Imports the next session of every symbol every 10 s; once they run out, the last one again with new closes (changed bars). */
async function importLoop(
  network: TestNetwork,
  market: readonly SampleBar[],
  days: readonly string[],
  tally: () => Tally,
  signal: AbortSignal,
) {
  for (let i = 0; await pause(10_000, signal); i++) {
    const day = days[Math.min(i, days.length - 1)];
    const bars = market
      .filter((b) => b.date === day)
      .map((b) => (i < days.length ? b : { ...b, close: b.low + ((b.high - b.low) * ((i % 10) + 1)) / 11 }));
    try {
      await network.client('ingestion').importCsv(chunksOf(csvOf(bars)), { timeoutMs: 30_000 });
      tally().imports++;
    } catch (error) {
      tally().fail('import', error);
    }
  }
}

/** One StreamPredictions stream held open, a request every 50 ms; reopened (and counted) if it fails. */
async function streamLoop(network: TestNetwork, symbols: readonly string[], tally: () => Tally, signal: AbortSignal) {
  while (!signal.aborted) {
    async function* requests() {
      for (let i = 0; await pause(50, signal); i++) yield { requestId: String(i), symbol: symbols[i % symbols.length] };
    }
    try {
      for await (const answer of network.client('prediction').streamPredictions(requests(), { signal })) {
        if (answer.outcome.case === 'error') tally().fail('stream answer', new Error(answer.outcome.value.message));
        else tally().streamAnswers++;
      }
    } catch (error) {
      if (!signal.aborted) tally().fail('stream', error);
    }
  }
}

/** One WatchPredictions stream on every symbol held open; reopened (and counted) if it fails. */
async function watchLoop(network: TestNetwork, symbols: readonly string[], tally: () => Tally, signal: AbortSignal) {
  while (!signal.aborted) {
    try {
      for await (const _ of network.client('prediction').watchPredictions({ symbols: [...symbols] }, { signal })) tally().watched++;
    } catch (error) {
      if (!signal.aborted) tally().fail('watch', error);
      await pause(1_000, signal);
    }
  }
}

/** A ridge job (not promoted) every `everyMinutes`, followed to its end. */
async function trainLoop(network: TestNetwork, symbols: readonly string[], everyMinutes: number, tally: () => Tally, signal: AbortSignal) {
  const training = network.client('training');
  for (let n = 0; await pause(n === 0 ? 30_000 : everyMinutes * 60_000, signal); n++) {
    try {
      const { job } = await training.startTraining(
        {
          spec: { modelName: 'soak-ridge', algorithm: Algorithm.RIDGE, symbols: symbols.slice(0, 10), foldCount: 3, autoPromote: false },
          requestedBy: 'soak',
        },
        { timeoutMs: 30_000 },
      );
      let state = job!.state;
      for await (const update of training.watchJob({ jobId: job!.jobId }, { signal, timeoutMs: 10 * 60_000 }))
        if (update.kind.case === 'job') state = update.kind.value.state;
      if (state !== JobState.SUCCEEDED) throw new Error(`job ${job!.jobId} ended ${JobState[state]}`);
      tally().jobs++;
    } catch (error) {
      if (!signal.aborted) tally().fail('training', error);
    }
  }
}

/** A new version promoted through the saga at each of `atMs` (from the start), checked to be served within 60 s. */
async function promoteLoop(
  network: TestNetwork,
  symbol: string,
  atMs: readonly number[],
  promote: () => Promise<number>,
  tally: () => Tally,
  signal: AbortSignal,
) {
  const started = Date.now();
  for (const at of atMs) {
    if (!(await pause(Math.max(0, started + at - Date.now()), signal))) return;
    try {
      const version = await promote();
      const deadline = Date.now() + 60_000;
      while (
        (
          await network
            .client('prediction')
            .predict({ symbol, modelName: SOAK_MODEL }, { timeoutMs: 5_000 })
            .catch(() => undefined)
        )?.prediction?.modelVersion !== version
      ) {
        if (Date.now() > deadline) throw new Error(`version ${version} not served 60 s after its promotion`);
        if (!(await pause(500, signal))) return;
      }
      tally().promotions++;
    } catch (error) {
      if (!signal.aborted) tally().fail('promotion', error);
    }
  }
}
