/**
 * Runs the benchmarks: all of them, or those named on the command line
 * (`make bench ONLY=ingestion`, `npm run bench -- ingestion`). Each prints its figures beside
 * the raw limits of this machine measured in the same run.
 */
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
for (const name of wanted.length ? wanted : Object.keys(BENCHMARKS)) {
  console.log(`\n=== ${name} ===`);
  await BENCHMARKS[name]();
}
process.exit(0);
