import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { BarsIngestedSchema } from '../../gen/nepse/events/v1/events_pb.js';
import { Baseline } from '../../gen/nepse/market/v1/market_pb.js';
import { Stage, type RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { Algorithm, JobState, PromotionOutcome, type Job, type TrainingService } from '../../gen/nepse/training/v1/training_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { statusDetails, type ServiceClient } from '../../lib/grpc/index.js';
import { barMessage } from '../../lib/market/index.js';
import { createRandom } from '../../lib/random/index.js';
import { DEFAULT_FEATURE_SET, type DailyBar } from '../../testing/market.js';
import { TestNetwork } from '../../testing/network.js';

const NOISE_STD = 0.01;
const SYMBOLS = 30;
const DAYS = 520;

/**
 * Bars whose next-day log return is a planted linear function of two ohlcv_v1 features of the day
 * plus Gaussian noise of known variance (signal on), or the noise alone (a random walk). Each day's
 * features are computed by the feature set itself from the bars so far, so the relation holds for
 * exactly what the feature service will serve.
 */
function plantedBars(seed: number, signal: boolean): DailyBar[] {
  const random = createRandom(seed);
  const r1 = DEFAULT_FEATURE_SET.features.findIndex((f) => f.name === 'log_return_1d');
  const rsi = DEFAULT_FEATURE_SET.features.findIndex((f) => f.name === 'rsi_14');
  const bars: DailyBar[] = [];
  let close = 100 + random.uniform() * 400;
  for (let day = 0; bars.length < DAYS; day++) {
    const date = new Date(Date.UTC(2022, 0, 2) + day * 86_400_000);
    if (date.getUTCDay() === 5 || date.getUTCDay() === 6) continue; // NEPSE trades Sunday to Thursday
    let drift = 0;
    if (signal && bars.length >= DEFAULT_FEATURE_SET.warmUpDays) {
      const features = DEFAULT_FEATURE_SET.compute(bars).at(-1)!.values;
      drift = 0.3 * features[r1] + 0.02 * ((features[rsi] - 50) / 50);
    }
    const open = close;
    close = close * Math.exp(drift + NOISE_STD * random.gaussian());
    const high = Math.max(open, close) * (1 + 0.004 * random.uniform());
    const low = Math.min(open, close) * (1 - 0.004 * random.uniform());
    bars.push({ date: date.toISOString().slice(0, 10), open, high, low, close, volume: Math.round(500 + 2000 * random.uniform()) });
  }
  return bars;
}

describe('training service: feature service → walk-forward → registry → promotion', () => {
  let network: TestNetwork;
  let trainingClient: ServiceClient<typeof TrainingService>;
  let registryClient: ServiceClient<typeof RegistryService>;
  const planted = Array.from({ length: SYMBOLS }, (_, i) => `PLANT${i}`);
  const walk = Array.from({ length: SYMBOLS }, (_, i) => `WALK${i}`);

  const finished = async (jobId: string): Promise<Job> => {
    const updates: Job[] = [];
    for await (const message of trainingClient.watchJob({ jobId }, { timeoutMs: 240_000 })) {
      if (message.kind.case === 'job') updates.push(message.kind.value);
    }
    const last = updates.at(-1)!;
    assert.ok(last.state === JobState.SUCCEEDED || last.state === JobState.FAILED, 'the stream ends with a terminal state');
    return last;
  };

  before(async () => {
    network = await TestNetwork.create({ services: ['feature', 'registry', 'training'] });
    trainingClient = network.client('training');
    registryClient = network.client('registry');
    const { bus } = network;
    for (const [symbols, signal] of [
      [planted, true],
      [walk, false],
    ] as const) {
      for (const [i, symbol] of symbols.entries()) {
        const bars = plantedBars(signal ? 1000 + i : 2000 + i, signal).map((b) => barMessage(symbol, b));
        await bus.publish(
          MeshEvents.barsIngested,
          symbol,
          create(BarsIngestedSchema, { symbol, bars, batchId: 'test', part: 1, partCount: 1 }),
          { msgId: `test-${symbol}` },
        );
      }
    }
    await network.processAll({ timeoutMs: 120_000 });
  });

  after(async () => {
    await network?.close();
  });

  it('a planted linear signal is learnt to the noise floor and the model is promoted', async () => {
    const { job } = await trainingClient.startTraining({
      spec: {
        modelName: 'planted-ridge',
        algorithm: Algorithm.RIDGE,
        symbols: planted,
        foldCount: 4,
        autoPromote: true,
        promotionMargin: 0.02,
      },
      requestId: 'planted-1',
      requestedBy: 'test',
    });
    const again = await trainingClient.startTraining({
      spec: { modelName: 'planted-ridge', algorithm: Algorithm.RIDGE },
      requestId: 'planted-1',
    });
    assert.equal(again.job?.jobId, job?.jobId, 'a repeated request_id returns the same job');
    const done = await finished(job!.jobId);
    assert.equal(done.state, JobState.SUCCEEDED, done.error);
    assert.equal(done.foldsCompleted, 4);
    const holdout = done.backtest!.folds.at(-1)!.evaluation!;
    const mse = holdout.model!.rmseReturn ** 2;
    const noise = NOISE_STD ** 2;
    assert.ok(Math.abs(mse / noise - 1) < 0.1, `holdout MSE ${mse} within 10 % of the noise variance ${noise}`);
    const noChange = holdout.baselines.find((b) => b.baseline === Baseline.NO_CHANGE)!.metrics!;
    assert.ok(holdout.model!.maeReturn < noChange.maeReturn * 0.98);
    assert.equal(done.promotion?.outcome, PromotionOutcome.PROMOTED, done.promotion?.reason);
    const production = await registryClient.getModel({ name: 'planted-ridge', selector: { case: 'stage', value: Stage.PRODUCTION } });
    assert.equal(production.modelVersion?.version, done.modelVersion);
    assert.equal(production.modelVersion?.trainingJobId, done.jobId);
    assert.equal(production.modelVersion?.input?.shape.at(-1), BigInt(DEFAULT_FEATURE_SET.features.length));
    assert.equal(production.modelVersion?.featureDistributions.length, DEFAULT_FEATURE_SET.features.length);
  });

  it('on a pure random walk the model is kept in Staging with the reason recorded', async () => {
    const { job } = await trainingClient.startTraining({
      spec: { modelName: 'walk-ridge', algorithm: Algorithm.RIDGE, symbols: walk, foldCount: 4, autoPromote: true, promotionMargin: 0.02 },
    });
    const done = await finished(job!.jobId);
    assert.equal(done.state, JobState.SUCCEEDED, done.error);
    assert.equal(done.promotion?.outcome, PromotionOutcome.KEPT_IN_STAGING);
    assert.match(done.promotion!.reason, /does not beat the no-change baseline/);
    const model = await registryClient.getModel({ name: 'walk-ridge', selector: { case: 'version', value: done.modelVersion } });
    assert.equal(model.modelVersion?.stage, Stage.STAGING);
  });

  it('trains gradient-boosted trees too', async () => {
    const { job } = await trainingClient.startTraining({
      spec: {
        modelName: 'planted-trees',
        algorithm: Algorithm.GRADIENT_BOOSTED_TREES,
        symbols: planted.slice(0, 10),
        foldCount: 3,
        hyperparameters: { case: 'gradientBoostedTrees', value: { numTrees: 30 } },
      },
    });
    const done = await finished(job!.jobId);
    assert.equal(done.state, JobState.SUCCEEDED, done.error);
    assert.equal(done.promotion?.outcome, PromotionOutcome.NOT_REQUESTED);
    const listed = await trainingClient.listJobs({ state: JobState.SUCCEEDED });
    assert.ok(listed.jobs.some((j) => j.jobId === done.jobId));
  });

  it('a job outlives the deadline of the StartTraining call that queued it and registers its model', async () => {
    const deadlineMs = 2_000;
    const { job } = await trainingClient.startTraining(
      {
        spec: {
          modelName: 'outlives-call',
          algorithm: Algorithm.GRADIENT_BOOSTED_TREES,
          symbols: [...planted, ...walk],
          foldCount: 3,
          // Enough trees that the job outlasts the call on a fast machine too, with the training
          // worker already warm from the tests before (about 5 s here).
          hyperparameters: { case: 'gradientBoostedTrees', value: { numTrees: 400 } },
        },
      },
      { timeoutMs: deadlineMs },
    );
    const done = await finished(job!.jobId);
    assert.equal(done.state, JobState.SUCCEEDED, done.error);
    const tookMs = timestampMs(done.finishedAt!) - timestampMs(done.createdAt!);
    assert.ok(
      tookMs > deadlineMs,
      `the job must take longer than the call's ${deadlineMs} ms deadline to show anything (took ${tookMs} ms)`,
    );
    const registered = await registryClient.getModel({ name: 'outlives-call', selector: { case: 'version', value: done.modelVersion } });
    assert.equal(registered.modelVersion?.trainingJobId, done.jobId);
  });

  it('refuses symbols the feature service has no features for, naming each, and queues nothing', async () => {
    const before = (await trainingClient.listJobs({})).jobs.length;
    const refused = await trainingClient
      .startTraining({
        spec: { modelName: 'ghosts', algorithm: Algorithm.RIDGE, symbols: [planted[0], walk[0], 'NOSUCH', 'plant1', 'GHOST2'] },
        requestId: 'ghosts-1',
      })
      .then(
        () => undefined,
        (error: unknown) => statusDetails(error),
      );
    assert.equal(refused?.code, 3, 'INVALID_ARGUMENT');
    assert.deepEqual(
      refused.fieldViolations.map((v) => v.field),
      ['spec.symbols[2]', 'spec.symbols[4]'],
    );
    assert.match(refused.fieldViolations[0].description, /unknown symbol NOSUCH/);
    const unknownSet = await trainingClient
      .startTraining({
        spec: { modelName: 'ghosts', algorithm: Algorithm.RIDGE, symbols: [planted[0]], featureSet: { name: 'nosuch', version: 1 } },
      })
      .then(
        () => undefined,
        (error: unknown) => statusDetails(error),
      );
    assert.equal(unknownSet?.fieldViolations[0]?.field, 'spec.feature_set');
    const badSet = await trainingClient
      .startTraining({
        spec: { modelName: 'ghosts', algorithm: Algorithm.RIDGE, symbols: [planted[0]], featureSet: { name: 'Not A Set', version: 1 } },
      })
      .then(
        () => undefined,
        (error: unknown) => statusDetails(error),
      );
    assert.equal(badSet?.fieldViolations[0]?.field, 'spec.feature_set.name');
    const after = await trainingClient.listJobs({});
    assert.equal(after.jobs.length, before, 'no job was queued');
    assert.ok(!after.jobs.some((j) => j.spec?.modelName === 'ghosts'));
  });

  it('refuses a bad spec naming the field, and an unknown job', async () => {
    await assert.rejects(
      trainingClient.startTraining({ spec: { modelName: 'x', algorithm: Algorithm.RIDGE, foldCount: 50 } }),
      (e: unknown) => statusDetails(e)?.fieldViolations[0]?.field === 'spec.fold_count',
    );
    await assert.rejects(trainingClient.getJob({ jobId: 'nope' }), (e: unknown) => statusDetails(e)?.code === 5);
  });
});
