/**
 * `make demo`: the whole mesh on this machine with no configuration. Starts a private nats-server
 * and every service as its own process (embedded stores in a temporary folder), imports two years
 * of NEPSE-like bars as a CSV (or the CSV given in DEMO_CSV, read by a scratch ingestion service so
 * its last sessions can be held back the same way), waits for the features, trains and
 * registers a model and promotes it through the saga, then replays the last sessions bar by bar
 * while predictions stream in, and ends with a summary that includes what monitoring scored live and
 * the alerts it has firing. Leaves no process or file behind.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeatureService } from '../gen/nepse/feature/v1/feature_pb.js';
import { IngestionService } from '../gen/nepse/ingestion/v1/ingestion_pb.js';
import { Baseline, type ForecastMetrics } from '../gen/nepse/market/v1/market_pb.js';
import { AlertState, MonitoringService, type PerformanceReport } from '../gen/nepse/monitoring/v1/monitoring_pb.js';
import { PredictionService, type Prediction } from '../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService, Stage } from '../gen/nepse/registry/v1/registry_pb.js';
import { Algorithm, JobState, PromotionOutcome, TrainingService, type Job } from '../gen/nepse/training/v1/training_pb.js';
import { startNatsServer, type NatsTestServer } from '../lib/events/testing.js';
import { createGrpcClient } from '../lib/grpc/index.js';
import { dayOf, DRIFT_DEFAULTS, tradingDays, type SymbolBar, barMessage } from '../lib/market/index.js';
import { startServiceProcess, type ServiceProcess } from '../lib/runtime/service-process.js';
import { generateMarket, toCsv } from './sample-market.js';

const SYMBOLS = 30;
const HISTORY_DAYS = 500;
const REPLAY_DAYS = 5;
const userCsv = process.env.DEMO_CSV;

const began = performance.now();
const say = (message: string) => console.log(`[${((performance.now() - began) / 1000).toFixed(1).padStart(5)} s] ${message}`);
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} %`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const processes: ServiceProcess[] = [];
let nats: NatsTestServer | undefined;
let dataDir = '';

async function main(): Promise<void> {
  dataDir = await mkdtemp(join(tmpdir(), 'nepse-demo-'));
  nats = await startNatsServer();
  say(`nats-server with JetStream on ${nats.url}`);
  const env = { NATS_URL: nats.url, DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  const start = async (name: string, extra: Record<string, string> = {}) => {
    const service = await startServiceProcess(name, { env: { ...env, ...extra }, output: 'ignore' });
    processes.push(service);
    say(`${name.padEnd(10)} up on 127.0.0.1:${service.port}`);
    return `127.0.0.1:${service.port}`;
  };
  const ingestionAddr = await start('ingestion');
  const featureAddr = await start('feature');
  const registryAddr = await start('registry', { NEPSE_FEATURE_ADDR: featureAddr });
  const trainingAddr = await start('training', { NEPSE_FEATURE_ADDR: featureAddr, NEPSE_REGISTRY_ADDR: registryAddr });
  const predictionAddr = await start('prediction', { NEPSE_FEATURE_ADDR: featureAddr, NEPSE_REGISTRY_ADDR: registryAddr });
  const monitoringAddr = await start('monitoring', {
    NEPSE_REGISTRY_ADDR: registryAddr,
    MONITORING_EVALUATE_INTERVAL_MS: '2000',
    MONITORING_EVALUATE_DEBOUNCE_MS: '200',
  });
  // The dashboard, for as long as the demo runs, with a development key (operator) as `make dev` makes one.
  const devKeyFile = join(dataDir, 'gateway', 'dev-api-key');
  const upstreams = {
    NEPSE_INGESTION_ADDR: ingestionAddr,
    NEPSE_FEATURE_ADDR: featureAddr,
    NEPSE_TRAINING_ADDR: trainingAddr,
    NEPSE_REGISTRY_ADDR: registryAddr,
    NEPSE_PREDICTION_ADDR: predictionAddr,
    NEPSE_MONITORING_ADDR: monitoringAddr,
  };
  const gatewayAddr = await start('gateway', { ...upstreams, GATEWAY_DEV_KEY_FILE: devKeyFile });
  say(`dashboard  http://${gatewayAddr}/ while the demo runs, key ${(await readFile(devKeyFile, 'utf8')).trim()}`);

  const ingestion = createGrpcClient(IngestionService, ingestionAddr, { defaultTimeoutMs: 120_000 });
  const features = createGrpcClient(FeatureService, featureAddr);
  const training = createGrpcClient(TrainingService, trainingAddr);
  const registry = createGrpcClient(RegistryService, registryAddr);
  const prediction = createGrpcClient(PredictionService, predictionAddr);
  const monitoring = createGrpcClient(MonitoringService, monitoringAddr);

  // 1. Data: a NEPSE-like market (or the user's file), the last sessions held back for the replay.
  const user = userCsv ? await readUserCsv(userCsv) : undefined;
  const market: SymbolBar[] =
    user?.bars ??
    generateMarket(tradingDays(HISTORY_DAYS + REPLAY_DAYS, new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)), {
      symbols: SYMBOLS,
    });
  const days = [...new Set(market.map((b) => b.date))].sort();
  if (days.length <= REPLAY_DAYS)
    throw new Error(`${userCsv} holds ${days.length} sessions, too few to hold ${REPLAY_DAYS} back for the replay`);
  const replayFrom = days[days.length - REPLAY_DAYS];
  const history = market.filter((b) => b.date < replayFrom);
  const csvPath = join(dataDir, userCsv ? (userCsv.split('/').pop() ?? 'prices.csv') : 'nepse-sample.csv');
  await writeFile(csvPath, toCsv(history));
  const imported = await ingestion.importCsv(
    (async function* () {
      yield { options: { source: 'demo', fileName: csvPath.split('/').pop() ?? 'sample.csv' } };
      for await (const chunk of createReadStream(csvPath, { highWaterMark: 256 * 1024 })) yield { chunk: chunk as Buffer };
    })(),
  );
  if (user)
    say(
      `${userCsv}: ${user.bars.length} bars read, ${user.rejected} rows rejected; the last ${REPLAY_DAYS} sessions (from ${replayFrom}) held back for the replay`,
    );
  say(
    `imported ${imported.rowsAccepted} bars of ${imported.symbols.length} symbols from ${csvPath.split('/').pop()} (${imported.rowsRejected} rejected)`,
  );
  const { symbols: listed } = await ingestion.listSymbols({ pageSize: 1000 });
  const lastDay = listed.reduce((last, s) => (dayOf(s.lastDate) > last ? dayOf(s.lastDate) : last), '');
  const replay = days.slice(-REPLAY_DAYS);
  // Symbols traded on every replayed session with a long history, so each replayed day brings their predictions.
  const tradedEveryDay = (symbol: string) => replay.every((day) => market.some((b) => b.symbol === symbol && b.date === day));
  const longest = listed.filter((s) => s.barCount >= 250n && tradedEveryDay(s.symbol)).sort((a, b) => Number(b.barCount - a.barCount));
  const watchedSymbols = userCsv ? longest.slice(0, 3).map((s) => s.symbol) : ['NABIL', 'UPPER', 'NLIC'];
  if (watchedSymbols.length === 0)
    throw new Error(`${userCsv} has no symbol with 250 sessions of history traded on each of its last ${REPLAY_DAYS} sessions`);

  // 2. Features, computed from the BarsIngested events (symbols with too short a history have none).
  const lastDays = new Map(listed.map((s) => [s.symbol, dayOf(s.lastDate)]));
  await until('the feature service', 120_000, async () => {
    const { results } = await features.batchGetFeatures({ symbols: imported.symbols });
    return results.every((r) =>
      r.outcome.case === 'vector'
        ? dayOf(r.outcome.value.date) === lastDays.get(r.symbol)
        : listed.find((s) => s.symbol === r.symbol)!.barCount < 50n,
    );
  });
  say(`features computed up to ${lastDay}`);

  // 3. Train, backtest, register, promote.
  const { job } = await training.startTraining({
    spec: { modelName: 'nepse-ridge', algorithm: Algorithm.RIDGE, foldCount: 5, autoPromote: true, promotionMargin: 0.01 },
    requestedBy: 'demo',
  });
  let done: Job | undefined;
  for await (const update of training.watchJob({ jobId: job!.jobId }, { timeoutMs: 120_000 })) {
    if (update.kind.case !== 'job') continue;
    const j = update.kind.value;
    if (j.foldsCompleted && j.foldsCompleted !== done?.foldsCompleted)
      say(`training: fold ${j.foldsCompleted} of ${j.foldCount} backtested`);
    done = j;
  }
  if (done?.state !== JobState.SUCCEEDED) throw new Error(`training failed: ${done?.error}`);
  say(`model nepse-ridge v${done.modelVersion} registered; ${done.promotion?.reason}`);
  if (done.promotion?.outcome !== PromotionOutcome.PROMOTED) {
    await registry.transitionStage({
      name: 'nepse-ridge',
      version: done.modelVersion,
      targetStage: Stage.PRODUCTION,
      reason: 'demo: promoted by hand to show the serving path',
      actor: 'demo',
    });
    say('promoted by hand for the demo (it did not beat "no change" by the margin)');
  }
  await until('the prediction service to serve the model', 60_000, async () => {
    const { prediction: p } = await prediction.predict({ symbol: watchedSymbols[0] });
    return p?.modelVersion === done!.modelVersion;
  });
  const model = await registry.getModel({ name: 'nepse-ridge', selector: { case: 'stage', value: Stage.PRODUCTION } });
  say(`prediction service activated v${model.modelVersion?.version} (stage ${Stage[model.modelVersion?.stage ?? 0]})`);

  // 4. Replay the held-back sessions while predictions stream in.
  const watched: Prediction[] = [];
  const watcher = new AbortController();
  const watching = (async () => {
    for await (const message of prediction.watchPredictions(
      { symbols: watchedSymbols, includeCurrent: false },
      { signal: watcher.signal },
    )) {
      if (message.kind.case === 'prediction') watched.push(message.kind.value);
    }
  })().catch(() => {});
  await sleep(300);
  for (const day of replay) {
    const bars = market.filter((b) => b.date === day);
    const seen = watched.length;
    await ingestion.ingestBars([{ bars: bars.map(wireBar), source: 'demo-replay' }]);
    await until(
      `predictions for ${day}`,
      30_000,
      async () => watched.slice(seen).filter((p) => dayOf(p.featureDate) === day).length >= watchedSymbols.length,
    );
    for (const p of watched.slice(seen).filter((p) => dayOf(p.featureDate) === day)) {
      say(
        `${day} ${p.symbol.padEnd(6)} close ${p.baseClose.toFixed(1).padStart(7)} → next close ${p.predictedClose.toFixed(1).padStart(7)} (${pct(p.predictedReturn)})  v${p.modelVersion}`,
      );
    }
  }
  watcher.abort();
  await watching;

  // 5. Latency of Predict, and the summary.
  const latencies: number[] = [];
  const symbols = imported.symbols;
  const stopAt = Date.now() + 2000;
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; Date.now() < stopAt; i += 8) {
        const t = performance.now();
        await prediction.predict({ symbol: symbols[i % symbols.length] });
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);

  // 6. What monitoring made of it: each replayed session's predictions scored against the next
  // session's bar, once monitoring has heard every replayed bar.
  const lastReplayed = replay.at(-1);
  const report = async () => (await monitoring.getModelPerformance({ modelName: 'nepse-ridge', modelVersion: done!.modelVersion })).report;
  let live: PerformanceReport | undefined;
  try {
    live = await until('monitoring to score the replayed predictions', 20_000, async () => {
      const r = await report();
      return r && (lastReplayed ? dayOf(r.window?.end) === lastReplayed : Number(r.live?.model?.count ?? 0n) > 0) ? r : undefined;
    });
  } catch {
    live = await report().catch(() => undefined);
  }
  // One evaluation interval, so the alerts reflect the replayed bars too.
  await sleep(2_500);
  const { alerts: firing } = await monitoring.listAlerts({ state: AlertState.FIRING, pageSize: 1000 });
  const quantile = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
  const holdout = done.backtest?.folds.at(-1)?.evaluation;
  // NO_CHANGE predicts a return of 0, so it never calls a direction: its accuracy would only count flat sessions.
  const row = (name: string, m?: ForecastMetrics, callsDirection = true) =>
    !m?.count
      ? `  ${name.padEnd(14)} none scored`
      : `  ${name.padEnd(14)} MAE ${(m?.maeReturn ?? 0).toFixed(5)}  RMSE ${(m?.rmseReturn ?? 0).toFixed(5)}  MAE close ${(m?.maeClose ?? 0).toFixed(2).padStart(6)}  direction ${callsDirection ? `${((m?.directionalAccuracy ?? 0) * 100).toFixed(1)} %` : 'n/a'}`;
  console.log('\nSummary');
  console.log(
    `  data           ${imported.rowsAccepted} bars${userCsv ? ` from ${userCsv}` : ''}, ${symbols.length} symbols, up to ${replay.at(-1) ?? lastDay}${replay.length ? ` (last ${replay.length} sessions replayed live)` : ''}`,
  );
  console.log(
    `  model          nepse-ridge v${done.modelVersion}, ${done.trainingRows} training rows, ${done.foldCount}-fold walk-forward; holdout (last fold):`,
  );
  console.log(row('model', holdout?.model));
  console.log(row('no change', holdout?.baselines.find((b) => b.baseline === Baseline.NO_CHANGE)?.metrics, false));
  console.log(row('SMA-5 drift', holdout?.baselines.find((b) => b.baseline === Baseline.SMA5_DRIFT)?.metrics));
  console.log(`  promotion      ${done.promotion?.reason}`);
  console.log(`  predictions    ${watched.length} pushed by WatchPredictions, ${latencies.length} Predict calls in 2 s at concurrency 8`);
  console.log(`  latency        Predict p50 ${quantile(0.5).toFixed(2)} ms, p99 ${quantile(0.99).toFixed(2)} ms`);
  if (live) {
    const m = live.live?.model;
    const b = live.live?.baselines.find((x) => x.baseline === Baseline.NO_CHANGE)?.metrics;
    if (!m?.count) {
      console.log(
        `  monitoring     none of the predictions were scored yet (${live.pendingPredictions} waiting for the next session's bar)`,
      );
    } else {
      console.log(
        `  monitoring     live, ${m.count} predictions scored against the next session's bar (${live.pendingPredictions} waiting), ${dayOf(live.window?.start)} to ${dayOf(live.window?.end)}:`,
      );
      console.log(row('model (live)', m));
      console.log(row('no change', b, false));
    }
    // The calendar features drift by design over a few weeks of live data; the drift rule skips them too.
    const { ignoredFeatures: ignored, minSamples } = DRIFT_DEFAULTS;
    const drifted = live.featureDrift
      .filter((d) => !ignored.includes(d.feature))
      .sort((x, y) => y.psi - x.psi)
      .slice(0, 3);
    if (drifted.length) {
      const trusted = drifted[0].sampleCount >= minSamples ? '' : `; too few to trust: the drift rule waits for ${minSamples}`;
      console.log(
        `  drift          largest PSI: ${drifted.map((d) => `${d.feature} ${d.psi.toFixed(3)}`).join(', ')} (over ${drifted[0].sampleCount} live vectors${trusted}; calendar features left out)`,
      );
    }
  } else {
    console.log('  monitoring     no predictions of nepse-ridge reached monitoring');
  }
  const byRule = new Map<string, number>();
  for (const a of firing) byRule.set(a.rule, (byRule.get(a.rule) ?? 0) + 1);
  console.log(`  alerts         ${firing.length ? [...byRule].map(([rule, n]) => `${rule} ×${n}`).join(', ') : 'none'} firing`);
  for (const a of firing.slice(0, 3)) console.log(`                 ${a.summary}`);
  console.log(`  took           ${((performance.now() - began) / 1000).toFixed(1)} s`);
  for (const client of [ingestion, features, training, registry, prediction, monitoring]) client.close();
}

const wireBar = (b: SymbolBar) => barMessage(b.symbol, b);

/**
 * Reads the user's CSV with a scratch ingestion service (its own nats-server and store, stopped
 * after), so the demo understands any layout the mesh does and can hold the last sessions back.
 */
async function readUserCsv(path: string): Promise<{ bars: SymbolBar[]; rejected: number }> {
  const scratchNats = await startNatsServer();
  const scratchDir = await mkdtemp(join(tmpdir(), 'nepse-demo-csv-'));
  let scratch: ServiceProcess | undefined;
  try {
    scratch = await startServiceProcess('ingestion', {
      env: { NATS_URL: scratchNats.url, DATA_DIR: scratchDir, LOG_LEVEL: 'warn' },
      output: 'ignore',
    });
    const client = createGrpcClient(IngestionService, `127.0.0.1:${scratch.port}`, { defaultTimeoutMs: 120_000 });
    try {
      const result = await client.importCsv(
        (async function* () {
          yield { options: { source: 'demo', fileName: path.split('/').pop() ?? 'prices.csv' } };
          for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) yield { chunk: chunk as Buffer };
        })(),
      );
      const bars: SymbolBar[] = [];
      for (const symbol of result.symbols) {
        for await (const page of client.getBars({ symbol })) {
          for (const b of page.bars)
            bars.push({
              symbol,
              date: dayOf(b.date),
              open: b.open,
              high: b.high,
              low: b.low,
              close: b.close,
              volume: b.volume,
              turnover: b.turnover,
              trades: b.trades === undefined ? undefined : Number(b.trades),
            });
        }
      }
      return { bars, rejected: Number(result.rowsRejected) };
    } finally {
      client.close();
    }
  } finally {
    await scratch?.stop();
    await scratchNats.stop();
    await rm(scratchDir, { recursive: true, force: true });
  }
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  console.error(`\nmake demo failed: ${(error as Error).message}`);
  exitCode = 1;
} finally {
  await Promise.all(processes.reverse().map((p) => p.stop()));
  await nats?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}
process.exit(exitCode);
