import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ActivationResult, ModelRolledBackSchema, type ModelActivation } from '../../gen/nepse/events/v1/events_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { EventRejectedError, NO_KEY, type EventBus, type EventSubscription } from '../../lib/events/index.js';
import type { Queryable } from '../../lib/postgres/index.js';
import { commitChange, type HistoryWriter, type RegistryDeps } from './context.js';
import { enqueueEvent } from './outbox.js';
import { registryStore, type PromotionRow } from './store.js';

/** The durable consumer of ModelActivation that completes or compensates promotion sagas. */
export const ACTIVATION_DURABLE = 'registry-activations';

/** Actor recorded for what the registry does on its own (the compensation). */
export const REGISTRY_ACTOR = 'registry';

/** Bounds the walk back through earlier promotions for a version to restore. */
const MAX_RESTORE_HOPS = 100;

/** What handling one activation did, for logs and tests. */
export type ActivationOutcome = 'recorded' | 'rolled_back' | 'marked_failed' | 'duplicate';

/**
 * The version to put back into Production when `saga` fails: the version it replaced, unless that
 * one failed activation itself (a chain of quick promotions), in which case the version that one
 * replaced, and so on; 0 when there is none.
 */
async function versionToRestore(tx: Queryable, saga: PromotionRow): Promise<number> {
  let candidate = saga.previous_version;
  for (let hop = 0; candidate !== 0 && hop < MAX_RESTORE_HOPS; hop++) {
    const row = await registryStore.version(tx, saga.name, candidate);
    if (row && row.status === 'ready') return candidate;
    candidate = (await registryStore.promotionOf(tx, saga.name, candidate))?.previous_version ?? 0;
  }
  return 0;
}

/**
 * Compensates a failed promotion that still holds Production: the candidate leaves Production for
 * Archived with status ACTIVATION_FAILED, the version it replaced comes back, the saga is marked
 * rolled back, and ModelRolledBack goes to the outbox, all in one transaction.
 */
async function rollBack(
  tx: Queryable,
  history: HistoryWriter,
  saga: PromotionRow,
  failure: { instance: string; reason: string },
): Promise<number> {
  const restored = await versionToRestore(tx, saga);
  const why = `activation failed on ${failure.instance}: ${failure.reason}`;
  await registryStore.setStage(tx, saga.name, saga.version, 'archived');
  await history.append({
    name: saga.name,
    version: saga.version,
    kind: 'rolled_back',
    fromStage: 'production',
    toStage: 'archived',
    relatedVersion: restored,
    actor: REGISTRY_ACTOR,
    reason: why,
    promotionId: saga.promotion_id,
  });
  if (restored !== 0) {
    const before = (await registryStore.version(tx, saga.name, restored))!;
    await registryStore.setStage(tx, saga.name, restored, 'production');
    await history.append({
      name: saga.name,
      version: restored,
      kind: 'stage_changed',
      fromStage: before.stage,
      toStage: 'production',
      relatedVersion: saga.version,
      actor: REGISTRY_ACTOR,
      reason: `restored: version ${saga.version} failed activation`,
      promotionId: saga.promotion_id,
    });
  }
  await registryStore.setPromotionState(tx, saga.promotion_id, 'rolled_back', failure);
  const event = create(ModelRolledBackSchema, {
    promotionId: saga.promotion_id,
    name: saga.name,
    failedVersion: saga.version,
    restoredVersion: restored,
    instanceId: failure.instance,
    reason: failure.reason,
    occurredAt: timestampFromDate(new Date()),
  });
  await enqueueEvent(tx, MeshEvents.modelRolledBack, NO_KEY, event, `models.rolled_back:${saga.promotion_id}`);
  return restored;
}

/**
 * Handles one prediction instance's answer to a promotion. Every answer is recorded once per
 * instance (redeliveries change nothing). OK marks a pending saga active. FAILED marks the version
 * ACTIVATION_FAILED with the reason and an ACTIVATION_FAILED history entry; if the saga still
 * holds Production it is compensated ({@link rollBack}); if it was already superseded by a later
 * promotion or a manual stage change, nothing is rolled back (that would undo someone else's
 * decision), and a version live again through a newer saga keeps its status (that saga's answers
 * decide). An answer for an unknown promotion, or one naming another version, is rejected
 * (dead-lettered): retrying cannot make it right.
 */
export async function handleActivation(deps: RegistryDeps, activation: ModelActivation): Promise<ActivationOutcome> {
  const failed = activation.result === ActivationResult.FAILED;
  if (!failed && activation.result !== ActivationResult.OK)
    throw new EventRejectedError(`activation of promotion ${activation.promotionId} has no result`);
  const instance = activation.instanceId.trim() || 'unknown-instance';
  const reason = activation.reason.trim().slice(0, 1000) || (failed ? 'no reason given' : '');
  return commitChange(deps, async (tx, history) => {
    const known = await registryStore.promotion(tx, activation.promotionId);
    if (!known) throw new EventRejectedError(`unknown promotion ${JSON.stringify(activation.promotionId)}`);
    if (known.name !== activation.name || known.version !== activation.version) {
      throw new EventRejectedError(
        `promotion ${known.promotion_id} is of ${known.name}/${known.version}, the activation names ${activation.name}/${activation.version}`,
      );
    }
    await registryStore.lockModel(tx, known.name);
    // Read again under the lock: a concurrent promotion may have superseded it meanwhile.
    const saga = (await registryStore.promotion(tx, known.promotion_id))!;
    const first = await registryStore.recordActivation(tx, {
      promotionId: saga.promotion_id,
      instanceId: instance,
      result: failed ? 'failed' : 'ok',
      reason,
      durationMs: Number.isFinite(activation.durationMs) ? activation.durationMs : 0,
      reportedAt: activation.occurredAt ? timestampDate(activation.occurredAt) : null,
    });
    if (!first) return 'duplicate';
    if (!failed) {
      if (saga.state === 'pending') await registryStore.setPromotionState(tx, saga.promotion_id, 'active');
      return 'recorded';
    }
    const version = (await registryStore.version(tx, saga.name, saga.version))!;
    const holdsProduction = (saga.state === 'pending' || saga.state === 'active') && version.stage === 'production';
    // A late answer to an old saga of a version that is live again through a newer one: that
    // saga's own answers decide; this one is only recorded.
    if (!holdsProduction && version.stage === 'production') return 'recorded';
    if (version.status !== 'activation_failed') {
      await registryStore.markActivationFailed(tx, saga.name, saga.version, `${instance}: ${reason}`);
      await history.append({
        name: saga.name,
        version: saga.version,
        kind: 'activation_failed',
        actor: instance,
        reason,
        promotionId: saga.promotion_id,
      });
    }
    if (!holdsProduction) return 'marked_failed';
    await rollBack(tx, history, saga, { instance, reason });
    return 'rolled_back';
  });
}

/** Subscribes the registry to ModelActivation, one answer at a time so sagas are settled in order. */
export function consumeActivations(deps: RegistryDeps, events: EventBus): Promise<EventSubscription> {
  return events.consume(
    MeshEvents.modelActivation,
    { durable: ACTIVATION_DURABLE, concurrency: 1, ackWaitMs: 30_000 },
    async (activation) => {
      const outcome = await handleActivation(deps, activation);
      const log = outcome === 'rolled_back' ? deps.logger.warn.bind(deps.logger) : deps.logger.info.bind(deps.logger);
      log(
        {
          promotionId: activation.promotionId,
          model: activation.name,
          version: activation.version,
          instance: activation.instanceId,
          result: ActivationResult[activation.result],
          reason: activation.reason || undefined,
          outcome,
        },
        outcome === 'rolled_back' ? 'promotion rolled back' : 'activation recorded',
      );
    },
  );
}
