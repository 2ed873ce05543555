/**
 * Predict latency and throughput with a shadow model set beside without, on one prediction
 * process. Rounds alternate — without, with, without, with, … — by moving the `challenger` alias
 * of the served model onto a second version and off it again between rounds, so whatever else
 * loads this machine during the run falls on both sides alike; a shadow's cost shows as the ratio
 * of the two, not as two figures taken minutes apart. Each side's figures are the median of its
 * rounds' p50 and p99 and its total calls over its total time; the ratios judged are the medians
 * of the ratios of adjacent rounds (round 2 over round 1, 4 over 3, …), each pair taken close
 * together in time. The aim (issue: "Predict latency with a shadow set is within 10 % of
 * without"): p50 and p99 at most 1.1x, throughput at least 0.9x. Beside them, the prediction
 * process's CPU time per call (the shadow's background work included, counted until the process
 * is quiet again): what the shadow costs, whatever else loads the machine. The shadow predictions
 * made and dropped during the rounds with it are printed, to show the shadow was at work.
 * Run: `make bench ONLY=prediction-shadow`.
 */
import * as grpc from '@grpc/grpc-js';
import { PredictionService } from '../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService } from '../gen/nepse/registry/v1/registry_pb.js';
import { createGrpcClient } from '../lib/grpc/index.js';
import { linearModel, registerRequests, registrationFor } from '../testing/models.js';
import { printTable, processCpuSeconds, rate, waitForIdle } from './format.js';
import { benchModel, measurePredict, startPredictionRig, type PredictionRig } from './prediction.js';
import { pairRatio, summarise, type Round, type Side } from './rounds.js';

const MODEL = 'bench-ridge';
const FEATURES = 25;
/** Calls in flight. */
const CONCURRENCY = 16;
/** Rounds of each side; the run is 2 x this many rounds. */
const PAIRS = 8;
/** Measured length of one round, in ms (after a 500 ms warm-up). */
const ROUND_MS = 2_000;
/** How much worse "with" may be: the 10 %. */
const AIM = 0.1;

/** What {@link measureShadow} measured. */
export interface ShadowLoads {
  without: Side;
  with: Side;
  /** Shadow predictions made and dropped (by any reason) during the rounds with a shadow. */
  shadowMade: number;
  shadowDropped: number;
}

/** The sum of a counter over all its label sets, from a metrics port. */
async function counterTotal(metricsPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  let total = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total += Number(line.split(' ').pop());
  return total;
}

/**
 * Measures Predict of `model` on one process of `rig` at `concurrency`, in `pairs` alternating
 * rounds without and with its `challenger` alias (the shadow) set.
 */
export async function measureShadow(
  rig: PredictionRig,
  model: string,
  features: number,
  concurrency = CONCURRENCY,
  pairs = PAIRS,
): Promise<ShadowLoads> {
  const service = await rig.startPrediction({});
  const registry = createGrpcClient(RegistryService, rig.env.NEPSE_REGISTRY_ADDR, { defaultTimeoutMs: 60_000 });
  const client = createGrpcClient(PredictionService, `127.0.0.1:${service.port}`);
  try {
    const bytes = linearModel({
      width: features,
      weights: Array.from({ length: features }, (_, i) => 0.0001 * ((i % 5) - 2)),
      bias: 0.0002,
    });
    const { modelVersion } = await registry.registerModel(registerRequests(registrationFor(model, features), bytes));
    const challenger = modelVersion!.version;

    /** Sets the shadow on or off and waits until this instance follows (ALIAS_NOT_SERVED once it is off), then for a quiet process. */
    const shadow = async (on: boolean) => {
      await registry.setAlias({ name: model, alias: 'challenger', version: on ? challenger : 0, actor: 'bench', reason: 'shadow latency' });
      const deadline = Date.now() + 60_000;
      for (;;) {
        const served = await client.predict({ symbol: rig.symbols[0], modelName: model, modelAlias: 'challenger' }).then(
          () => true,
          (error: { code?: number }) => {
            if (error.code !== grpc.status.FAILED_PRECONDITION) throw error;
            return false;
          },
        );
        if (served === on) break;
        if (Date.now() > deadline) throw new Error(`the challenger alias was not ${on ? 'served' : 'removed'} within 60 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await waitForIdle(service.child.pid!);
    };

    const rounds = { without: [] as Round[], with: [] as Round[] };
    const pid = service.child.pid!;
    let shadowMade = 0;
    let shadowDropped = 0;
    for (let i = 0; i < pairs * 2; i++) {
      const on = i % 2 === 1;
      await shadow(on);
      const [made, dropped] = [
        await counterTotal(service.metricsPort, 'nepse_prediction_shadow_total'),
        await counterTotal(service.metricsPort, 'nepse_prediction_shadow_dropped_total'),
      ];
      const cpuBefore = processCpuSeconds(pid);
      const load = await measurePredict(service.port, rig.symbols, concurrency, ROUND_MS);
      // The shadow work of the round finishes after it: count it, both sides alike, once the process is quiet.
      await waitForIdle(pid);
      const cpuUsPerCall = ((processCpuSeconds(pid) - cpuBefore) * 1e6) / Math.max(1, load.requests);
      (on ? rounds.with : rounds.without).push({ ...load, cpuUsPerCall });
      if (on) {
        shadowMade += (await counterTotal(service.metricsPort, 'nepse_prediction_shadow_total')) - made;
        shadowDropped += (await counterTotal(service.metricsPort, 'nepse_prediction_shadow_dropped_total')) - dropped;
      }
    }
    return { without: summarise(rounds.without), with: summarise(rounds.with), shadowMade, shadowDropped };
  } finally {
    client.close();
    registry.close();
    await service.stop();
  }
}

/** Prints the rounds and the verdict of {@link measureShadow}. */
export function printShadow(loads: ShadowLoads, concurrency = CONCURRENCY): void {
  const { without, with: withShadow } = loads;
  /** The figures of a round or of a side's summary, as the tables show them. */
  const figures = (r: Round | Side) => [
    rate(r.perSecond),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    (r.cpuUsPerCall / 1000).toFixed(3),
    r.errors,
  ];
  const row = (n: number, label: string, r: Round) => [n, label, ...figures(r)];
  printTable(
    `prediction-shadow: Predict at concurrency ${concurrency}, rounds alternating without and with a shadow (challenger alias set)`,
    [
      ['round', 'shadow', 'Predict/s', 'p50 ms', 'p99 ms', 'CPU ms/call', 'errors'],
      ...without.rounds.flatMap((a, i) => [row(2 * i + 1, 'without', a), row(2 * i + 2, 'with', withShadow.rounds[i])]),
    ],
  );
  const ratios = {
    throughput: pairRatio(without, withShadow, (r) => r.perSecond),
    p50: pairRatio(without, withShadow, (r) => r.p50Ms),
    p99: pairRatio(without, withShadow, (r) => r.p99Ms),
    cpu: pairRatio(without, withShadow, (r) => r.cpuUsPerCall),
  };
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const sideRow = (name: string, side: Side) => [name, ...figures(side)];
  const met = { throughput: ratios.throughput >= 1 - AIM, p50: ratios.p50 <= 1 + AIM, p99: ratios.p99 <= 1 + AIM };
  printTable('prediction-shadow: both sides (median p50, p99 and CPU of the rounds, total calls over total time)', [
    ['shadow', 'Predict/s', 'p50 ms', 'p99 ms', 'CPU ms/call', 'errors'],
    sideRow('without', without),
    sideRow('with', withShadow),
    [
      'ratio with/without (median of adjacent pairs)',
      ratios.throughput.toFixed(3),
      ratios.p50.toFixed(3),
      ratios.p99.toFixed(3),
      ratios.cpu.toFixed(3),
      '',
    ],
    [`aim: within ${AIM * 100} % of without`, verdict(met.throughput), verdict(met.p50), verdict(met.p99), '', ''],
  ]);
  console.log(
    `  shadow at work in the rounds with it: ${loads.shadowMade} shadow predictions made, ${loads.shadowDropped} dropped (queue full or failed); ` +
      `aim within ${AIM * 100} % of without: ${verdict(met.throughput && met.p50 && met.p99)}`,
  );
}

/** `make bench ONLY=prediction-shadow`. */
export async function benchPredictionShadow(): Promise<void> {
  const rig = await startPredictionRig(benchModel());
  try {
    printShadow(await measureShadow(rig, MODEL, FEATURES));
  } finally {
    await rig.stop();
  }
}
