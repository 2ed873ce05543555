import type { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import {
  grpc,
  InvalidArgumentError,
  statusDetails,
  UnavailableError,
  type FieldViolation,
  type ServiceClient,
} from '../../lib/grpc/index.js';
import type { CallPolicy } from '../../lib/resilience/index.js';
import type { ResolvedSpec } from './spec.js';

/** Symbols one BatchGetFeatures may carry (feature.proto), as many as a spec may name. */
const MAX_SYMBOLS_PER_CALL = 1000;

/**
 * Refuses a spec whose symbols, or feature set, the feature service has no features for, before a
 * job is queued: INVALID_ARGUMENT naming each unknown `spec.symbols[i]` (or `spec.feature_set`).
 * The feature service owns the training data, so it is asked (BatchGetFeatures for the latest
 * vectors, answered from its memory) rather than anything read here. A spec naming no symbols
 * means every symbol and needs no check. Runs within the StartTraining call's deadline.
 * @throws UnavailableError when the feature service cannot answer, so nothing is queued unchecked.
 */
export async function requireKnownSymbols(
  features: ServiceClient<typeof FeatureService>,
  policy: CallPolicy,
  spec: ResolvedSpec,
  field = 'spec',
): Promise<void> {
  if (spec.symbols.length === 0) return;
  const problems: FieldViolation[] = [];
  for (let at = 0; at < spec.symbols.length; at += MAX_SYMBOLS_PER_CALL) {
    const symbols = spec.symbols.slice(at, at + MAX_SYMBOLS_PER_CALL);
    let results;
    try {
      ({ results } = await policy.execute((signal) => features.batchGetFeatures({ symbols, featureSet: spec.featureSet }, { signal })));
    } catch (error) {
      const code = (error as { code?: number }).code;
      const set = `${spec.featureSet.name || 'the default feature set'}${spec.featureSet.version ? ` v${spec.featureSet.version}` : ''}`;
      if (code === grpc.status.NOT_FOUND)
        throw new InvalidArgumentError({ field: `${field}.feature_set`, description: `the feature service does not compute ${set}` });
      const refused = code === grpc.status.INVALID_ARGUMENT ? statusDetails(error)?.fieldViolations : undefined;
      if (refused?.length) {
        // The feature service names its own request's fields: the same ones, within the spec.
        const inSpec = (name: string) => name.replace(/^symbols\[(\d+)\]/, (_, i: string) => `symbols[${at + Number(i)}]`);
        throw new InvalidArgumentError(refused.map((v) => ({ field: `${field}.${inSpec(v.field)}`, description: v.description })));
      }
      throw new UnavailableError(`the feature service cannot confirm the symbols of the spec: ${(error as Error).message}`, 1_000);
    }
    results.forEach((result, i) => {
      if (result.outcome.case !== 'error') return;
      const status = result.outcome.value;
      const description =
        status.code === grpc.status.NOT_FOUND
          ? `unknown symbol ${result.symbol}: the feature service has no features for it (no bars imported, or fewer than the warm-up needs)`
          : `the feature service refused symbol ${result.symbol}: ${status.message}`;
      problems.push({ field: `${field}.symbols[${at + i}]`, description });
    });
  }
  if (problems.length > 0) throw new InvalidArgumentError(problems);
}
