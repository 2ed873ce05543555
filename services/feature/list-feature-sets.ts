import { create } from '@bufbuild/protobuf';
import {
  FeatureSetSchema,
  ListFeatureSetsResponseSchema,
  type FeatureSet,
  type ListFeatureSetsRequest,
  type ListFeatureSetsResponse,
} from '../../gen/nepse/feature/v1/feature_pb.js';
import { decodePageToken, encodePageToken, pageSize } from '../../lib/market/index.js';
import { FEATURE_SETS, type FeatureSetDefinition } from './feature-sets/index.js';

/** The contract form of a feature set: names, order, warm-ups and version. */
export function featureSetMessage(set: FeatureSetDefinition): FeatureSet {
  return create(FeatureSetSchema, {
    ref: { name: set.name, version: set.version },
    description: set.description,
    features: set.features.map((f) => ({ name: f.name, description: f.description, warmUpDays: f.warmUpDays })),
    warmUpDays: set.warmUpDays,
  });
}

const keyOf = (set: FeatureSetDefinition) => `${set.name}\u0000${String(set.version).padStart(6, '0')}`;

/** ListFeatureSets: every set the service computes, by name then version. */
export function listFeatureSets(request: ListFeatureSetsRequest): ListFeatureSetsResponse {
  const size = pageSize(request.pageSize);
  const after = decodePageToken(request.pageToken);
  const sets = [...FEATURE_SETS].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1)).filter((s) => keyOf(s) > after);
  const page = sets.slice(0, size);
  return create(ListFeatureSetsResponseSchema, {
    featureSets: page.map(featureSetMessage),
    nextPageToken: sets.length > size ? encodePageToken(keyOf(page[page.length - 1])) : '',
  });
}
