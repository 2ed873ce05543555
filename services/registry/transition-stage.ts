import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ModelPromotedSchema, ModelWithdrawnSchema } from '../../gen/nepse/events/v1/events_pb.js';
import {
  Stage,
  TransitionStageResponseSchema,
  type TransitionStageRequest,
  type TransitionStageResponse,
} from '../../gen/nepse/registry/v1/registry_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { NO_KEY } from '../../lib/events/index.js';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../lib/grpc/index.js';
import type { Queryable } from '../../lib/postgres/index.js';
import { commitChange, type HistoryWriter, type RegistryDeps } from './context.js';
import { stageName, toModelVersion } from './model-version.js';
import { enqueueEvent } from './outbox.js';
import { requireAllowedMove } from './stage-machine.js';
import { registryStore, type VersionRow } from './store.js';
import { boundedText, MAX_REASON_CHARS, requireActor, requireModelName, requireVersion } from './validate.js';

/** Who asked, and why: recorded with every history entry of the change. */
interface Change {
  actor: string;
  reason: string;
}

/**
 * Moves `row` into Production: the current Production version (if any) is archived, open sagas of
 * the name end, and a new promotion saga starts with ModelPromoted in the outbox. Runs under the
 * model's row lock, so concurrent promotions of one name take turns and each archives the one
 * before it.
 */
async function promote(
  tx: Queryable,
  history: HistoryWriter,
  row: VersionRow,
  change: Change,
): Promise<{ previous: number; promotionId: string }> {
  const promotionId = randomUUID();
  const current = await registryStore.versionInStage(tx, row.name, 'production');
  await registryStore.supersedePromotions(tx, row.name);
  if (current) {
    await registryStore.setStage(tx, row.name, current.version, 'archived');
    await history.append({
      name: row.name,
      version: current.version,
      kind: 'stage_changed',
      fromStage: 'production',
      toStage: 'archived',
      relatedVersion: row.version,
      actor: change.actor,
      reason: `replaced by version ${row.version}${change.reason ? `: ${change.reason}` : ''}`,
      promotionId,
    });
  }
  await registryStore.setStage(tx, row.name, row.version, 'production');
  await history.append({
    name: row.name,
    version: row.version,
    kind: 'stage_changed',
    fromStage: row.stage,
    toStage: 'production',
    relatedVersion: current?.version ?? 0,
    actor: change.actor,
    reason: change.reason,
    promotionId,
  });
  const previous = current?.version ?? 0;
  await registryStore.insertPromotion(tx, {
    promotion_id: promotionId,
    name: row.name,
    version: row.version,
    previous_version: previous,
    actor: change.actor,
    reason: change.reason,
  });
  const event = create(ModelPromotedSchema, {
    promotionId,
    name: row.name,
    version: row.version,
    previousProductionVersion: previous,
    featureSet: { name: row.feature_set_name, version: row.feature_set_version },
    artifactSha256: row.artifact_sha256,
    actor: change.actor,
    reason: change.reason,
    occurredAt: timestampFromDate(new Date()),
  });
  await enqueueEvent(tx, MeshEvents.modelPromoted, NO_KEY, event, `models.promoted:${promotionId}`);
  return { previous, promotionId };
}

/**
 * Takes `row` out of Production by hand: its saga ends (a late failed activation must not roll
 * back what the operator already withdrew) and ModelWithdrawn tells prediction instances to stop
 * serving it.
 */
async function withdraw(tx: Queryable, row: VersionRow, stage: Stage, change: Change): Promise<void> {
  await registryStore.supersedePromotions(tx, row.name);
  const changeId = randomUUID();
  const event = create(ModelWithdrawnSchema, {
    changeId,
    name: row.name,
    version: row.version,
    stage,
    actor: change.actor,
    reason: change.reason,
    occurredAt: timestampFromDate(new Date()),
  });
  await enqueueEvent(tx, MeshEvents.modelWithdrawn, NO_KEY, event, `models.withdrawn:${changeId}`);
}

/**
 * TransitionStage. At most one Production version per name: promoting archives the previous one
 * and starts the promotion saga; moving a version to the stage it is in changes nothing (for
 * Production it answers the saga that put it there, so a retried promotion sees the same answer);
 * moving the Production version anywhere else withdraws it. A move the stage machine does not
 * allow (an archived version straight back to Production, say) and the promotion of a version
 * whose activation failed are FAILED_PRECONDITION, checked under the model's lock before anything
 * is written.
 */
export async function transitionStage(deps: RegistryDeps, request: TransitionStageRequest): Promise<TransitionStageResponse> {
  const name = requireModelName(request.name);
  const version = requireVersion(request.version);
  const target = stageName(request.targetStage);
  if (!target) {
    throw new InvalidArgumentError({
      field: 'target_stage',
      description: `must be NONE, STAGING, PRODUCTION or ARCHIVED, got ${Stage[request.targetStage] ?? request.targetStage}`,
    });
  }
  const change: Change = { actor: requireActor(request.actor), reason: boundedText(request.reason.trim(), 'reason', MAX_REASON_CHARS) };

  const outcome = await commitChange(deps, async (tx, history) => {
    if (!(await registryStore.lockModel(tx, name))) throw new NotFoundError('model', name);
    const row = await registryStore.version(tx, name, version);
    if (!row) throw new NotFoundError('model version', `${name}/${version}`);
    let previous = 0;
    let promotionId = '';
    if (row.stage === target) {
      if (target === 'production') {
        const saga = await registryStore.promotionOf(tx, name, version);
        previous = saga?.previous_version ?? 0;
        promotionId = saga?.promotion_id ?? '';
      }
      return { row, previous, promotionId, changed: false };
    }
    // A failed activation first: it is why the version may never serve, whatever its stage.
    if (target === 'production' && row.status === 'activation_failed') {
      throw new FailedPreconditionError(
        `${name} version ${version} failed activation (${row.status_reason}) and may not be promoted again`,
        'ACTIVATION_FAILED',
      );
    }
    requireAllowedMove(name, version, row.stage, target);
    if (target === 'production') {
      ({ previous, promotionId } = await promote(tx, history, row, change));
    } else {
      await registryStore.setStage(tx, name, version, target);
      await history.append({
        name,
        version,
        kind: 'stage_changed',
        fromStage: row.stage,
        toStage: target,
        actor: change.actor,
        reason: change.reason,
      });
      if (row.stage === 'production') await withdraw(tx, row, request.targetStage, change);
    }
    return { row: (await registryStore.version(tx, name, version))!, previous, promotionId, changed: true };
  });
  if (outcome.changed)
    deps.logger.info(
      {
        model: name,
        version,
        stage: target,
        actor: change.actor,
        promotionId: outcome.promotionId || undefined,
        previous: outcome.previous || undefined,
      },
      'stage changed',
    );
  return create(TransitionStageResponseSchema, {
    modelVersion: toModelVersion(outcome.row),
    previousProductionVersion: outcome.previous,
    promotionId: outcome.promotionId,
  });
}
