import type { FeatureSetRef } from '../../gen/nepse/market/v1/market_pb.js';
import { InvalidArgumentError, NotFoundError } from '../../lib/grpc/index.js';
import { findFeatureSet, type FeatureSetDefinition } from './feature-sets/index.js';

/** What a feature set name looks like (market.proto: lower_snake_case). */
const SET_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * The feature set a request names (default set when the name is empty, latest version when the
 * version is 0). A malformed reference is INVALID_ARGUMENT naming `<field>.name` or
 * `<field>.version`; a well-formed one the service does not compute is NOT_FOUND.
 */
export function resolveFeatureSet(ref: FeatureSetRef | undefined, field = 'feature_set'): FeatureSetDefinition {
  const name = ref?.name ?? '';
  const version = ref?.version ?? 0;
  if (name !== '' && !SET_NAME.test(name)) {
    throw new InvalidArgumentError({
      field: `${field}.name`,
      description: `must be lower_snake_case (at most 64 characters) or empty for the default set, got ${JSON.stringify(name.slice(0, 80))}`,
    });
  }
  if (version < 0)
    throw new InvalidArgumentError({ field: `${field}.version`, description: `must be 0 (the latest) or a version >= 1, got ${version}` });
  const set = findFeatureSet(name, version);
  if (!set) throw new NotFoundError('feature set', `${name || '(default)'}_v${version || 'latest'}`);
  return set;
}
