import type { FeatureSetRef } from '../../gen/nepse/market/v1/market_pb.js';
import { NotFoundError } from '../../lib/grpc/index.js';
import { findFeatureSet, type FeatureSetDefinition } from './feature-sets/index.js';

/** The feature set a request names (default set when empty, latest version when 0); NOT_FOUND otherwise. */
export function resolveFeatureSet(ref: FeatureSetRef | undefined): FeatureSetDefinition {
  const set = findFeatureSet(ref?.name ?? '', ref?.version ?? 0);
  if (!set) throw new NotFoundError('feature set', `${ref?.name || '(default)'}_v${ref?.version || 'latest'}`);
  return set;
}
