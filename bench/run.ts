/**
 * Runs the benchmarks: all of them, or those named on the command line
 * (`make bench ONLY=ingestion`, `npm run bench -- ingestion`). Each prints its figures beside
 * the raw limits of this machine measured in the same run.
 *
 * Several benchmarks run one after another, each in a process of its own: the load generator of
 * one must not carry what an earlier one left in it (embedded ClickHouse's background threads,
 * the heap of a training run and its garbage collections), which shows up as noise in the
 * latency tails that a later one compares.
 */
import { spawnSync } from 'node:child_process';
import { benchFeature } from './feature.js';
import { benchGateway } from './gateway.js';
import { benchRawEcho } from './grpc-echo.js';
import { benchIngestion } from './ingestion.js';
import { benchLatency } from './latency.js';
import { benchMonitoring } from './monitoring.js';
import { benchPrediction } from './prediction.js';
import { benchPredictionShadow } from './prediction-shadow.js';
import { benchTraining } from './training.js';

const BENCHMARKS: Record<string, () => Promise<void>> = {
  echo: benchRawEcho,
  ingestion: benchIngestion,
  feature: benchFeature,
  training: benchTraining,
  prediction: benchPrediction,
  'prediction-shadow': benchPredictionShadow,
  gateway: benchGateway,
  latency: benchLatency,
  monitoring: benchMonitoring,
};

const wanted = process.argv.slice(2).filter(Boolean);
const unknown = wanted.filter((name) => !(name in BENCHMARKS));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  process.exit(2);
}
const names = wanted.length ? wanted : Object.keys(BENCHMARKS);
if (names.length === 1) {
  console.log(`\n=== ${names[0]} ===`);
  await BENCHMARKS[names[0]]();
} else {
  const failed: string[] = [];
  for (const name of names) {
    const run = spawnSync(process.execPath, [...process.execArgv, process.argv[1], name], { stdio: 'inherit' });
    if (run.status !== 0) failed.push(`${name} (${run.signal ?? `exit ${run.status}`})`);
  }
  if (failed.length) {
    console.error(`benchmarks that failed: ${failed.join(', ')}`);
    process.exit(1);
  }
}
process.exit(0);
