import { create, fromJson, type JsonValue } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { BacktestReportSchema } from '../../gen/nepse/market/v1/market_pb.js';
import {
  ArtifactFormat,
  ChangeKind,
  FeatureDistributionSchema,
  HistoryEntrySchema,
  ModelStatus,
  ModelVersionSchema,
  Stage,
  TensorSpecSchema,
  type HistoryEntry,
  type ModelVersion,
} from '../../gen/nepse/registry/v1/registry_pb.js';
import { toProtoDate } from '../../lib/market/index.js';
import type { ChangeKindName, HistoryRow, StageName, VersionRow } from './store.js';

const STAGES: Record<StageName, Stage> = {
  none: Stage.NONE,
  staging: Stage.STAGING,
  production: Stage.PRODUCTION,
  archived: Stage.ARCHIVED,
};

const KINDS: Record<ChangeKindName, ChangeKind> = {
  registered: ChangeKind.REGISTERED,
  stage_changed: ChangeKind.STAGE_CHANGED,
  alias_set: ChangeKind.ALIAS_SET,
  alias_removed: ChangeKind.ALIAS_REMOVED,
  activation_failed: ChangeKind.ACTIVATION_FAILED,
  rolled_back: ChangeKind.ROLLED_BACK,
};

/** The contract's stage of a stored one. */
export function toStage(stage: StageName | null): Stage {
  return stage ? STAGES[stage] : Stage.UNSPECIFIED;
}

/** The stored name of a contract stage; undefined for UNSPECIFIED or an unknown number. */
export function stageName(stage: Stage): StageName | undefined {
  return (Object.keys(STAGES) as StageName[]).find((name) => STAGES[name] === stage);
}

/** The contract form of a stored version. */
export function toModelVersion(row: VersionRow): ModelVersion {
  return create(ModelVersionSchema, {
    name: row.name,
    version: row.version,
    description: row.description,
    featureSet: { name: row.feature_set_name, version: row.feature_set_version },
    input: fromJson(TensorSpecSchema, row.input as JsonValue),
    output: fromJson(TensorSpecSchema, row.output as JsonValue),
    target: { kind: row.target_kind, horizonSessions: row.target_horizon_sessions, description: row.target_description },
    trainingRange:
      row.training_start || row.training_end
        ? {
            start: row.training_start ? toProtoDate(row.training_start) : undefined,
            end: row.training_end ? toProtoDate(row.training_end) : undefined,
          }
        : undefined,
    backtest: row.backtest ? fromJson(BacktestReportSchema, row.backtest as JsonValue) : undefined,
    trainingJobId: row.training_job_id,
    codeRevision: row.code_revision,
    createdAt: timestampFromDate(row.created_at),
    stage: toStage(row.stage),
    aliases: row.aliases,
    tags: row.tags,
    artifact: { format: ArtifactFormat.ONNX, sha256: row.artifact_sha256, sizeBytes: BigInt(row.artifact_size_bytes) },
    status: row.status === 'ready' ? ModelStatus.READY : ModelStatus.ACTIVATION_FAILED,
    statusReason: row.status_reason,
    featureDistributions: (row.feature_distributions as JsonValue[]).map((d) => fromJson(FeatureDistributionSchema, d)),
    registeredBy: row.registered_by,
    stageChangedAt: timestampFromDate(row.stage_changed_at),
  });
}

/** The contract form of a stored history entry. */
export function toHistoryEntry(row: HistoryRow): HistoryEntry {
  return create(HistoryEntrySchema, {
    sequence: BigInt(row.sequence),
    name: row.name,
    version: row.version,
    kind: KINDS[row.kind],
    fromStage: toStage(row.from_stage),
    toStage: toStage(row.to_stage),
    alias: row.alias,
    relatedVersion: row.related_version,
    actor: row.actor,
    reason: row.reason,
    promotionId: row.promotion_id,
    changedAt: timestampFromDate(row.changed_at),
  });
}
