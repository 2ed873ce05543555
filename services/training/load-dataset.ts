import type { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import type { ServiceClient } from '../../lib/grpc/index.js';
import { dayOf, toProtoDate } from '../../lib/market/index.js';
import type { CallPolicy } from '../../lib/resilience/index.js';
import type { Dataset, TrainingExample } from './models/dataset.js';
import type { ResolvedSpec } from './spec.js';

/** A training set with the identity of the feature set it was computed with. */
export interface LoadedDataset extends Dataset {
  featureSet: { name: string; version: number };
}

/**
 * Streams the training set of a spec from the feature service (the only source of training data)
 * through the call policy: a failure before the stream completes retries the whole read, which is
 * safe because it only reads. Examples come back sorted by date, then symbol.
 */
export async function loadDataset(
  features: ServiceClient<typeof FeatureService>,
  policy: CallPolicy,
  spec: ResolvedSpec,
  timeoutMs: number,
): Promise<LoadedDataset> {
  return policy.execute(async (signal) => {
    const examples: TrainingExample[] = [];
    let featureNames: string[] = [];
    let featureSet = spec.featureSet;
    const stream = features.getTrainingSet(
      { symbols: spec.symbols, range: { start: toProtoDate(spec.from), end: toProtoDate(spec.to) }, featureSet: spec.featureSet },
      { signal, timeoutMs },
    );
    for await (const message of stream) {
      if (message.featureSet) {
        featureNames = message.featureSet.features.map((f) => f.name);
        featureSet = { name: message.featureSet.ref?.name ?? '', version: message.featureSet.ref?.version ?? 0 };
      }
      for (const row of message.rows) {
        examples.push({
          symbol: row.symbol,
          date: dayOf(row.date),
          features: row.features,
          close: row.close,
          label: row.labelReturn,
          nextClose: row.labelClose,
        });
      }
    }
    examples.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
    return { featureNames, examples, featureSet };
  });
}
