/**
 * The feature sets the feature service computes, and how a request's (name, version) resolves to
 * one. Adding a version means adding its file and one line to FEATURE_SETS; published versions
 * are never edited.
 */
import type { FeatureSetDefinition } from './feature-set.js';
import { OHLCV_V1 } from './ohlcv-v1.js';

export {
  InvalidHistoryError,
  NonFiniteFeatureError,
  MAX_PRICE,
  MIN_PRICE,
  MAX_QUANTITY,
  readHistory,
  type BarField,
  type Computation,
  type BarColumns,
  type DailyBar,
  type FeatureDefinition,
  type FeatureRow,
  type FeatureSetDefinition,
} from './feature-set.js';
export { OHLCV_V1, ohlcvV1Columns } from './ohlcv-v1.js';

/** Every feature set, ordered by name, then version ascending (the order ListFeatureSets pages through). */
export const FEATURE_SETS: readonly FeatureSetDefinition[] = Object.freeze([OHLCV_V1]);

/** Name of the set a request gets when it names none (FeatureSetRef.name empty). */
export const DEFAULT_FEATURE_SET_NAME = 'ohlcv';

/**
 * The feature set named `name` at `version`, or undefined when there is none. `name` '' means
 * {@link DEFAULT_FEATURE_SET_NAME}; `version` 0 means the highest version of that name. Negative
 * or fractional versions find nothing (the caller answers INVALID_ARGUMENT or NOT_FOUND).
 */
export function findFeatureSet(name: string, version: number): FeatureSetDefinition | undefined {
  const wanted = name === '' ? DEFAULT_FEATURE_SET_NAME : name;
  if (!Number.isInteger(version) || version < 0) return undefined;
  let found: FeatureSetDefinition | undefined;
  for (const set of FEATURE_SETS) {
    if (set.name !== wanted) continue;
    if (version === 0 ? !found || set.version > found.version : set.version === version) found = set;
  }
  return found;
}

/** The latest version of the default set: what an empty FeatureSetRef resolves to. */
export const DEFAULT_FEATURE_SET: FeatureSetDefinition = findFeatureSet('', 0)!;

/** Short identifier of a set version, `<name>_v<version>` (e.g. `ohlcv_v1`), for logs, metrics and keys. */
export function featureSetKey(set: Pick<FeatureSetDefinition, 'name' | 'version'>): string {
  return `${set.name}_v${set.version}`;
}
