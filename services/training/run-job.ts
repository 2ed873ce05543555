import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import * as ort from 'onnxruntime-node';
import { TrainingFinishedSchema } from '../../gen/nepse/events/v1/events_pb.js';
import type { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { ArtifactFormat, Stage, TargetKind, TensorDataType, type RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { JobPhase, JobState, PromotionOutcome, type Job } from '../../gen/nepse/training/v1/training_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import type { EventBus } from '../../lib/events/index.js';
import type { ServiceClient } from '../../lib/grpc/index.js';
import { toProtoDate } from '../../lib/market/index.js';
import type { CallPolicy } from '../../lib/resilience/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import { backtestReport, evaluation } from './backtest-report.js';
import type { JobStore } from './job-store.js';
import { loadDataset } from './load-dataset.js';
import type { FoldResult } from './models/walk-forward.js';
import { promotionVerdict } from './promotion.js';
import type { ResolvedSpec } from './spec.js';
import { trainInWorker } from './train-in-worker.js';

/** Bytes per RegisterModel chunk. */
const CHUNK_BYTES = 256 * 1024;
/** Largest difference allowed between the exported ONNX model and the TypeScript model. */
export const PARITY_TOLERANCE = 1e-5;
/** Holdout rows the parity check runs at most. */
const PARITY_ROWS = 5000;

/** What a job needs from the rest of the mesh. */
export interface JobDeps {
  jobs: JobStore;
  features: ServiceClient<typeof FeatureService>;
  registry: ServiceClient<typeof RegistryService>;
  /** Policies for calls to the feature service and the registry. */
  featurePolicy: CallPolicy;
  registryPolicy: CallPolicy;
  events: EventBus;
  logger: Logger;
  codeRevision: string;
  loadTimeoutMs: number;
}

/** Runs the ONNX model on rows the TypeScript model predicted; the largest absolute difference. */
async function parityGap(onnx: Uint8Array, rows: number[][], expected: readonly number[]): Promise<number> {
  const session = await ort.InferenceSession.create(onnx);
  try {
    const width = rows[0]?.length ?? 0;
    const input = new Float32Array(rows.length * width);
    rows.forEach((row, i) => input.set(row, i * width));
    const output = await session.run({ features: new ort.Tensor('float32', input, [rows.length, width]) });
    const onnxValues = output.log_return.data as Float32Array;
    let gap = 0;
    for (let i = 0; i < rows.length; i++) gap = Math.max(gap, Math.abs(onnxValues[i] - expected[i]));
    return gap;
  } finally {
    await session.release();
  }
}

/**
 * Runs one training job through its phases: load the training set from the feature service,
 * walk-forward backtest against the baselines, fit on everything, export ONNX and check it
 * against the TypeScript model, register it, then promote it or keep it in Staging by the
 * auto-promotion rule. Progress is written to the job store after every step.
 */
export async function runJob(deps: JobDeps, jobId: string, spec: ResolvedSpec): Promise<void> {
  const { jobs } = deps;
  const set = (change: (job: Job) => void) => jobs.update(jobId, change);
  let modelVersion = 0;
  try {
    set((job) => {
      job.state = JobState.RUNNING;
      job.phase = JobPhase.LOADING_DATA;
      job.startedAt = timestampFromDate(new Date());
    });
    const dataset = await loadDataset(deps.features, deps.featurePolicy, spec, deps.loadTimeoutMs);
    const dates = new Set(dataset.examples.map((e) => e.date));
    if (dates.size < spec.folds + 1) {
      throw new Error(`the training set has ${dates.size} trading days; ${spec.folds} folds need at least ${spec.folds + 1}`);
    }
    set((job) => {
      job.trainingRows = BigInt(dataset.examples.length);
      job.phase = JobPhase.BACKTESTING;
    });

    const folds: FoldResult[] = [];
    const trained = await trainInWorker(
      { spec, dataset, parityRows: PARITY_ROWS, docString: `${spec.modelName} trained by job ${jobId}` },
      (progress) => {
        if (progress.kind === 'fold') {
          folds.push(progress.fold);
          set((job) => {
            job.foldsCompleted = folds.length;
            job.backtest = backtestReport(spec.folds, folds);
          });
        } else {
          set((job) => (job.phase = progress.phase === 'fitting' ? JobPhase.FITTING : JobPhase.EXPORTING));
        }
      },
    );
    const { backtest, onnx } = trained;
    set((job) => (job.backtest = backtestReport(spec.folds, backtest.folds, backtest)));
    const gap = await parityGap(onnx, trained.parityRows, trained.parityPredictions);
    if (!(gap <= PARITY_TOLERANCE))
      throw new Error(`the exported ONNX model differs from the trained model by ${gap} (tolerance ${PARITY_TOLERANCE})`);

    set((job) => (job.phase = JobPhase.REGISTERING));
    const sha256 = createHash('sha256').update(onnx).digest('hex');
    const width = dataset.featureNames.length;
    const registration = {
      name: spec.modelName,
      description: `${spec.algorithm === 'ridge' ? 'Ridge regression' : 'Gradient-boosted trees'} on ${dataset.featureSet.name}_v${dataset.featureSet.version}, next-day log return`,
      featureSet: dataset.featureSet,
      input: { name: 'features', dataType: TensorDataType.FP32, shape: [-1n, BigInt(width)] },
      output: { name: 'log_return', dataType: TensorDataType.FP32, shape: [-1n, 1n] },
      target: {
        kind: TargetKind.LOG_RETURN,
        horizonSessions: 1,
        description: 'ln(close[t+1] / close[t]); the predicted close is close[t] * exp(prediction)',
      },
      trainingRange: { start: toProtoDate(dataset.examples[0].date), end: toProtoDate(dataset.examples[dataset.examples.length - 1].date) },
      backtest: backtestReport(spec.folds, backtest.folds, backtest),
      trainingJobId: jobId,
      codeRevision: deps.codeRevision,
      tags: { algorithm: spec.algorithm, ...(jobs.get(jobId)?.spec?.tags ?? {}) },
      featureDistributions: trained.distributions.map((d) => ({ ...d, sampleCount: BigInt(d.sampleCount) })),
      artifactFormat: ArtifactFormat.ONNX,
      artifactSha256: sha256,
      artifactSizeBytes: BigInt(onnx.byteLength),
      registeredBy: `training:${jobId}`,
    };
    const registered = await deps.registryPolicy.execute((signal) =>
      deps.registry.registerModel(
        (function* () {
          yield { content: { case: 'registration' as const, value: registration } };
          for (let at = 0; at < onnx.byteLength; at += CHUNK_BYTES)
            yield { content: { case: 'chunk' as const, value: onnx.subarray(at, at + CHUNK_BYTES) } };
        })(),
        { signal, timeoutMs: 60_000 },
      ),
    );
    modelVersion = registered.modelVersion?.version ?? 0;
    set((job) => {
      job.modelVersion = modelVersion;
      job.phase = JobPhase.PROMOTING;
    });

    const holdout = backtest.holdout;
    const verdict = promotionVerdict(holdout.model.maeReturn, holdout.noChange.maeReturn, spec.promotionMargin);
    let outcome = PromotionOutcome.NOT_REQUESTED;
    let reason = 'auto_promote was not requested';
    if (spec.autoPromote) {
      const target = verdict.qualifies ? Stage.PRODUCTION : Stage.STAGING;
      try {
        await deps.registryPolicy.execute((signal) =>
          deps.registry.transitionStage(
            { name: spec.modelName, version: modelVersion, targetStage: target, reason: verdict.reason, actor: `training:${jobId}` },
            { signal },
          ),
        );
        outcome = verdict.qualifies ? PromotionOutcome.PROMOTED : PromotionOutcome.KEPT_IN_STAGING;
        reason = verdict.reason;
      } catch (error) {
        outcome = PromotionOutcome.FAILED;
        reason = `the registry refused the transition: ${(error as Error).message}`;
      }
    }
    const finished = set((job) => {
      job.promotion = {
        $typeName: 'nepse.training.v1.PromotionDecision',
        outcome,
        reason,
        modelMaeReturn: holdout.model.maeReturn,
        baselineMaeReturn: holdout.noChange.maeReturn,
      };
      job.state = JobState.SUCCEEDED;
      job.phase = JobPhase.DONE;
      job.finishedAt = timestampFromDate(new Date());
    });
    await announce(deps, finished, evaluation(holdout), reason);
  } catch (error) {
    deps.logger.warn({ err: error, jobId }, 'training job failed');
    const failed = set((job) => {
      job.state = JobState.FAILED;
      job.phase = JobPhase.DONE;
      job.error = (error as Error).message ?? String(error);
      job.modelVersion = modelVersion;
      job.finishedAt = timestampFromDate(new Date());
    });
    await announce(deps, failed, undefined, failed.error);
  }
}

/** Publishes TrainingFinished; a failure to publish is logged, the job's outcome stands. */
async function announce(deps: JobDeps, job: Job, holdout: ReturnType<typeof evaluation> | undefined, reason: string): Promise<void> {
  const event = create(TrainingFinishedSchema, {
    jobId: job.jobId,
    modelName: job.spec?.modelName ?? '',
    state: job.state,
    modelVersion: job.modelVersion,
    holdout,
    promotionOutcome: job.promotion?.outcome ?? PromotionOutcome.UNSPECIFIED,
    reason,
    occurredAt: timestampFromDate(new Date()),
  });
  try {
    await deps.events.publish(MeshEvents.trainingFinished, '_', event, { msgId: `training.finished:${job.jobId}` });
  } catch (error) {
    deps.logger.warn({ err: error, jobId: job.jobId }, 'TrainingFinished not published');
  }
}
