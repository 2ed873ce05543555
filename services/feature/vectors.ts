import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { FeatureVector } from '../../gen/nepse/feature/v1/feature_pb.js';
import { toProtoDate } from '../../lib/market/index.js';
import type { FeatureRow, FeatureSetDefinition } from './feature-sets/index.js';

/** The wire form of a computed vector, with the set's names in vector order. */
export function toFeatureVector(set: FeatureSetDefinition, symbol: string, row: FeatureRow, computedAt: Date): FeatureVector {
  return {
    $typeName: 'nepse.feature.v1.FeatureVector',
    symbol,
    date: toProtoDate(row.date),
    featureSet: { $typeName: 'nepse.market.v1.FeatureSetRef', name: set.name, version: set.version },
    names: set.features.map((f) => f.name),
    values: row.values,
    close: row.close,
    computedAt: timestampFromDate(computedAt),
  };
}
