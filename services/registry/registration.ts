import { toJsonString } from '@bufbuild/protobuf';
import { BacktestReportSchema, type Evaluation, type ForecastMetrics } from '../../gen/nepse/market/v1/market_pb.js';
import {
  ArtifactFormat,
  FeatureDistributionSchema,
  TargetKind,
  TensorDataType,
  TensorSpecSchema,
  type ModelRegistration,
  type TensorSpec,
} from '../../gen/nepse/registry/v1/registry_pb.js';
import { InvalidArgumentError } from '../../lib/grpc/index.js';
import { fromProtoDate } from '../../lib/market/index.js';
import type { FeatureSetInfo } from './feature-sets.js';
import type { NewVersion } from './store.js';
import { boundedText, MAX_ACTOR_CHARS, requireFinite, requireModelName } from './validate.js';

/** Largest artifact accepted, in bytes (registry.proto: at most 256 MiB). */
export const MAX_ARTIFACT_BYTES = 256 * 1024 * 1024;
/** Largest chunk of a registration stream, in bytes (registry.proto: up to 1 MiB each). */
export const MAX_CHUNK_BYTES = 1024 * 1024;

const MAX_DESCRIPTION_CHARS = 2000;
const MAX_TAGS = 50;
const MAX_TAG_CHARS = 200;
const MAX_ID_CHARS = 200;
const FEATURE_SET_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;

/** A registration whose fields passed the checks that need nothing but the message itself. */
export interface CheckedRegistration {
  readonly registration: ModelRegistration;
  readonly name: string;
  readonly featureSet: { name: string; version: number };
  /** Width the registration declares (input shape [batch, width]). */
  readonly width: number;
  /** Declared sha256, lower case, when given. */
  readonly sha256?: string;
  /** Declared size in bytes, when given. */
  readonly sizeBytes?: number;
  readonly registeredBy: string;
  readonly trainingStart: string | null;
  readonly trainingEnd: string | null;
}

const field = (path: string) => `registration.${path}`;
const invalid = (path: string, description: string) => new InvalidArgumentError({ field: field(path), description });

function checkTensor(spec: TensorSpec | undefined, path: 'input' | 'output'): TensorSpec {
  if (!spec) throw invalid(path, `the model's ${path} tensor (name, data type, shape) is required`);
  if (spec.name.trim() === '') throw invalid(`${path}.name`, `the ${path} tensor's name in the ONNX graph is required`);
  if (spec.dataType !== TensorDataType.FP32 && spec.dataType !== TensorDataType.FP64) {
    throw invalid(`${path}.data_type`, `must be FP32 or FP64, got ${TensorDataType[spec.dataType] ?? spec.dataType}`);
  }
  const shape = spec.shape.map(Number);
  const batchOk = (d: number) => d === -1 || d >= 1;
  if (path === 'input') {
    if (shape.length !== 2 || !batchOk(shape[0]) || !(shape[1] >= 1)) {
      throw invalid('input.shape', `must be [batch, features] such as [-1, 25] (-1: any batch size), got [${shape.join(', ')}]`);
    }
  } else if (!((shape.length === 1 && batchOk(shape[0])) || (shape.length === 2 && batchOk(shape[0]) && shape[1] === 1))) {
    throw invalid('output.shape', `must be one value per row, [-1] or [-1, 1], got [${shape.join(', ')}]`);
  }
  return spec;
}

function checkMetrics(m: ForecastMetrics | undefined, path: string): void {
  if (!m) return;
  for (const key of ['maeReturn', 'rmseReturn', 'maeClose', 'rmseClose', 'mapeClose', 'directionalAccuracy'] as const)
    requireFinite(m[key], field(`${path}.${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`));
}

function checkEvaluation(e: Evaluation | undefined, path: string): void {
  if (!e) return;
  checkMetrics(e.model, `${path}.model`);
  e.baselines.forEach((b, i) => checkMetrics(b.metrics, `${path}.baselines[${i}].metrics`));
}

/**
 * Checks a registration on its own (names, shapes, target, tags, distributions, declared
 * checksum and size); INVALID_ARGUMENT naming the field (`registration.<field>`) otherwise.
 */
export function checkRegistration(r: ModelRegistration): CheckedRegistration {
  const name = requireModelName(r.name, field('name'));
  boundedText(r.description, field('description'), MAX_DESCRIPTION_CHARS);
  if (!r.featureSet) throw invalid('feature_set', 'the feature set (name and version) the model consumes is required');
  if (!FEATURE_SET_NAME.test(r.featureSet.name))
    throw invalid('feature_set.name', `feature set name ${JSON.stringify(r.featureSet.name)} must be lower_snake_case`);
  if (!(r.featureSet.version >= 1))
    throw invalid('feature_set.version', `must be 1 or more (the exact version the model was trained on), got ${r.featureSet.version}`);
  const input = checkTensor(r.input, 'input');
  checkTensor(r.output, 'output');
  if (!r.target) throw invalid('target', 'what the model predicts (kind and horizon) is required');
  if (r.target.kind !== TargetKind.LOG_RETURN)
    throw invalid('target.kind', `must be LOG_RETURN, got ${TargetKind[r.target.kind] ?? r.target.kind}`);
  if (!(r.target.horizonSessions >= 1))
    throw invalid('target.horizon_sessions', `must be 1 or more trading sessions, got ${r.target.horizonSessions}`);
  boundedText(r.target.description, field('target.description'), MAX_DESCRIPTION_CHARS);
  const trainingStart = r.trainingRange?.start ? fromProtoDate(r.trainingRange.start, field('training_range.start')) : null;
  const trainingEnd = r.trainingRange?.end ? fromProtoDate(r.trainingRange.end, field('training_range.end')) : null;
  if (trainingStart && trainingEnd && trainingStart > trainingEnd)
    throw invalid('training_range.end', `end ${trainingEnd} is before start ${trainingStart}`);
  if (r.backtest) {
    r.backtest.folds.forEach((f, i) => checkEvaluation(f.evaluation, `backtest.folds[${i}].evaluation`));
    checkEvaluation(r.backtest.overall, 'backtest.overall');
  }
  boundedText(r.trainingJobId, field('training_job_id'), MAX_ID_CHARS);
  boundedText(r.codeRevision, field('code_revision'), MAX_ID_CHARS);
  const tags = Object.entries(r.tags);
  if (tags.length > MAX_TAGS) throw invalid('tags', `at most ${MAX_TAGS} tags, got ${tags.length}`);
  for (const [key, value] of tags) {
    if (key === '' || key.length > MAX_TAG_CHARS)
      throw invalid('tags', `tag keys must be 1-${MAX_TAG_CHARS} characters, got ${JSON.stringify(key.slice(0, 40))}`);
    if (value.length > MAX_TAG_CHARS)
      throw invalid(`tags[${JSON.stringify(key)}]`, `tag values must be at most ${MAX_TAG_CHARS} characters`);
  }
  r.featureDistributions.forEach((d, i) => {
    const at = `feature_distributions[${i}]`;
    if (d.feature === '') throw invalid(`${at}.feature`, 'the feature name is required');
    if (d.binEdges.some((e, j) => !Number.isFinite(e) || (j > 0 && e <= d.binEdges[j - 1])))
      throw invalid(`${at}.bin_edges`, 'must be finite and strictly ascending');
    if (d.binFractions.length !== d.binEdges.length + 1)
      throw invalid(
        `${at}.bin_fractions`,
        `n-1 edges make n bins: expected ${d.binEdges.length + 1} fractions, got ${d.binFractions.length}`,
      );
    const sum = d.binFractions.reduce((s, f) => s + f, 0);
    if (d.binFractions.some((f) => !(f >= 0 && f <= 1)) || Math.abs(sum - 1) > 1e-6)
      throw invalid(`${at}.bin_fractions`, `must be fractions in [0, 1] summing to 1, got sum ${sum}`);
    if (d.sampleCount < 0n) throw invalid(`${at}.sample_count`, 'must not be negative');
  });
  if (r.artifactFormat !== ArtifactFormat.UNSPECIFIED && r.artifactFormat !== ArtifactFormat.ONNX)
    throw invalid('artifact_format', 'only ONNX artifacts are accepted');
  if (r.artifactSha256 !== '' && !SHA256.test(r.artifactSha256))
    throw invalid('artifact_sha256', 'must be 64 hexadecimal characters (SHA-256)');
  const size = Number(r.artifactSizeBytes);
  if (size < 0 || size > MAX_ARTIFACT_BYTES)
    throw invalid('artifact_size_bytes', `must be 0 (unknown) to ${MAX_ARTIFACT_BYTES} bytes (256 MiB), got ${size}`);
  const registeredBy = r.registeredBy.trim();
  boundedText(registeredBy, field('registered_by'), MAX_ACTOR_CHARS);
  return {
    registration: r,
    name,
    featureSet: { name: r.featureSet.name, version: r.featureSet.version },
    width: Number(input.shape[1]),
    sha256: r.artifactSha256 ? r.artifactSha256.toLowerCase() : undefined,
    sizeBytes: size > 0 ? size : undefined,
    registeredBy: registeredBy || 'unknown',
    trainingStart,
    trainingEnd,
  };
}

/** Checks what a registration says against the feature set it names (width, distribution order). */
export function checkAgainstFeatureSet(checked: CheckedRegistration, set: FeatureSetInfo): void {
  const label = `${set.name}_v${set.version}`;
  if (checked.width !== set.features.length) {
    throw invalid('input.shape', `declares ${checked.width} features, but feature set ${label} has ${set.features.length}`);
  }
  const distributions = checked.registration.featureDistributions;
  if (distributions.length > 0) {
    const names = distributions.map((d) => d.feature);
    const mismatch = names.length !== set.features.length ? -1 : names.findIndex((n, i) => n !== set.features[i]);
    if (names.length !== set.features.length || mismatch !== -1) {
      throw invalid(
        'feature_distributions',
        `must list every feature of ${label} in its order (${set.features.slice(0, 3).join(', ')}, …)${mismatch >= 0 ? `; entry ${mismatch} is ${JSON.stringify(names[mismatch])}, expected ${JSON.stringify(set.features[mismatch])}` : `; got ${names.length} entries`}`,
      );
    }
  }
}

/** The stored columns of a verified registration. */
export function newVersionOf(checked: CheckedRegistration, sha256: string, sizeBytes: number): NewVersion {
  const r = checked.registration;
  return {
    name: checked.name,
    description: r.description,
    featureSetName: checked.featureSet.name,
    featureSetVersion: checked.featureSet.version,
    input: toJsonString(TensorSpecSchema, r.input!),
    output: toJsonString(TensorSpecSchema, r.output!),
    targetKind: r.target!.kind,
    targetHorizonSessions: r.target!.horizonSessions,
    targetDescription: r.target!.description,
    trainingStart: checked.trainingStart,
    trainingEnd: checked.trainingEnd,
    backtest: r.backtest ? toJsonString(BacktestReportSchema, r.backtest) : null,
    featureDistributions: `[${r.featureDistributions.map((d) => toJsonString(FeatureDistributionSchema, d)).join(',')}]`,
    trainingJobId: r.trainingJobId,
    codeRevision: r.codeRevision,
    tags: JSON.stringify(r.tags),
    artifactSha256: sha256,
    artifactSizeBytes: sizeBytes,
    registeredBy: checked.registeredBy,
  };
}
