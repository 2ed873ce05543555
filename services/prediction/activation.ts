/**
 * The prediction side of the promotion saga (docs/architecture.md): on ModelPromoted, download, load,
 * smoke-test and swap in the new version, then answer ModelActivation OK — or FAILED with the
 * reason while the previous version keeps serving; on ModelRolledBack, go back to the restored
 * version if the failed one is serving here; on ModelWithdrawn, stop serving the version an
 * operator took out of Production.
 *
 * Why each instance has its own durable consumers (`prediction-<instanceId>-promotions`): every
 * instance serves every model, so every instance must see every promotion and answer it. A shared
 * durable is a work queue — each promotion would reach one instance and the others would keep
 * serving the old version while the registry counts the saga as done. With one durable per
 * instance each gets its own copy and its own position in the stream; the registry records one
 * answer per instance (the msgId carries the instance id). Give instances stable ids (the pod name
 * of a StatefulSet, PREDICTION_INSTANCE_ID) so a restart resumes its durable; a durable of an id
 * that never returns stays behind until removed.
 *
 * A new durable starts at the beginning of the stream (lib/events: deliver-all), so an instance
 * meets old promotions on its first start. It answers only those whose version is still the
 * registry's Production version: an old, superseded saga is over, and a FAILED answer to it would
 * mark a version the registry already moved on from (activation-consumer.ts records it).
 */
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { createHash } from 'node:crypto';
import {
  ActivationResult,
  ModelActivationSchema,
  type ModelPromoted,
  type ModelRolledBack,
  type ModelWithdrawn,
} from '../../gen/nepse/events/v1/events_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { EventRejectedError, NO_KEY, type Delivery, type EventBus, type EventSubscription } from '../../lib/events/index.js';
import { isModelName } from '../../lib/market/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import { retireModel } from './inference-session.js';
import type { LoadedModel, ModelCache } from './model-cache.js';
import { isTransient, type ModelLoader, type ProductionLoad } from './model-loader.js';

/** Options of {@link startModelActivation}. Durations are milliseconds. */
export interface ActivationOptions {
  cache: ModelCache;
  loader: ModelLoader;
  events: EventBus;
  /** This instance's id, `[A-Za-z0-9_-]` (others are replaced): in every answer and in its durable names. */
  instanceId: string;
  logger: Logger;
  /**
   * Deliveries of one event before this instance stops waiting for the registry: a promotion is
   * then answered FAILED ("gave up after …"), so the saga is settled either way. Default 10
   * (about six minutes with the default backoff).
   */
  maxDeliver?: number;
  /** Redelivery delays after the 1st, 2nd, … transient failure, in ms. Default 1 s, 5 s, 15 s, 30 s, 60 s (last repeats). */
  backoffMs?: readonly number[];
  /** How long one delivery may take before it is delivered again, in ms: above a download plus a load. Default 180 000. */
  ackWaitMs?: number;
  /** How long the loading at start may wait for the registry to answer its list, in ms. Default 60 000. */
  startupTimeoutMs?: number;
}

/** What handling one ModelPromoted did. */
export type PromotionOutcome = 'activated' | 'already_active' | 'failed' | 'superseded' | 'answered_before';

/** What handling one ModelRolledBack did. */
export type RollbackOutcome = 'restored' | 'deactivated' | 'not_serving_failed_version' | 'restore_failed';

/** What handling one ModelWithdrawn did. */
export type WithdrawalOutcome = 'withdrawn' | 'not_serving' | 'back_in_production';

/** The event handlers, apart from their consumers (tests call them with redeliveries). */
export interface ActivationHandlers {
  promoted(event: ModelPromoted, delivery: Pick<Delivery, 'deliveryCount'>): Promise<PromotionOutcome>;
  rolledBack(event: ModelRolledBack, delivery: Pick<Delivery, 'deliveryCount'>): Promise<RollbackOutcome>;
  withdrawn(event: ModelWithdrawn, delivery: Pick<Delivery, 'deliveryCount'>): Promise<WithdrawalOutcome>;
}

/** A running activation: its consumers. */
export interface RunningActivation {
  /** What the loading at start found. */
  readonly initial: ProductionLoad;
  /** Stops the consumers, waiting for a handler in progress. */
  stop(): Promise<void>;
}

const DEFAULT_MAX_DELIVER = 10;
const DEFAULT_BACKOFF_MS = [1_000, 5_000, 15_000, 30_000, 60_000];
/** Promotions whose answer is remembered, so a redelivery repeats it without loading again. */
const REMEMBERED_ANSWERS = 1_024;

/** The durable names of an instance: at most 64 characters, unique per instance id. */
export function activationDurables(instanceId: string): { promotions: string; rollbacks: string; withdrawals: string } {
  const clean = instanceId.replace(/[^A-Za-z0-9_-]/g, '_') || 'unnamed';
  // 'prediction-' + id + '-withdrawals' must fit JetStream's 64; long ids keep a hash to stay unique.
  const id = clean.length <= 40 ? clean : `${clean.slice(0, 31)}-${createHash('sha256').update(instanceId).digest('hex').slice(0, 8)}`;
  return {
    promotions: `prediction-${id}-promotions`,
    rollbacks: `prediction-${id}-rollbacks`,
    withdrawals: `prediction-${id}-withdrawals`,
  };
}

function requireEvent(name: string, version: number, what: string): void {
  if (!isModelName(name) || !Number.isInteger(version) || version < 1) {
    throw new EventRejectedError(`${what} names no valid model version: ${JSON.stringify(name)}/${version}`);
  }
}

/** Creates the handlers of ModelPromoted, ModelRolledBack and ModelWithdrawn for one instance. */
export function createActivationHandlers(options: ActivationOptions): ActivationHandlers {
  const { cache, loader, events, logger } = options;
  const maxDeliver = options.maxDeliver ?? DEFAULT_MAX_DELIVER;
  const answers = new Map<string, { result: ActivationResult; reason: string }>();
  /** Per model name, the tail of the work queued on it: promotions and rollbacks of one name take turns. */
  const queues = new Map<string, Promise<unknown>>();

  const serial = <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const run = (queues.get(name) ?? Promise.resolve()).then(work, work);
    const tail = run.catch(() => {});
    queues.set(name, tail);
    void tail.then(() => queues.get(name) === tail && queues.delete(name));
    return run;
  };

  const remember = (promotionId: string, result: ActivationResult, reason: string) => {
    answers.set(promotionId, { result, reason });
    if (answers.size > REMEMBERED_ANSWERS) answers.delete(answers.keys().next().value!);
  };

  const answer = async (event: ModelPromoted, result: ActivationResult, reason: string, started: number) => {
    const activation = create(ModelActivationSchema, {
      promotionId: event.promotionId,
      name: event.name,
      version: event.version,
      instanceId: options.instanceId,
      result,
      reason: reason.slice(0, 1_000),
      durationMs: performance.now() - started,
      occurredAt: timestampNow(),
    });
    // Deterministic per saga and instance: a repeated answer is dropped by JetStream, and the
    // registry records one answer per instance anyway.
    await events.publish(MeshEvents.modelActivation, NO_KEY, activation, {
      msgId: `models.activation:${event.promotionId}:${options.instanceId}`,
    });
  };

  /** Whether `version` is still the registry's Production version; on a transient error, assume it is. */
  const stillProduction = async (name: string, version: number) => {
    try {
      return (await loader.productionVersion(name)) === version;
    } catch (error) {
      if (!isTransient(error)) throw error;
      logger.warn({ err: error, model: name, version }, 'registry unreachable after loading; activating as promoted');
      return true;
    }
  };

  async function decide(
    event: ModelPromoted,
    last: boolean,
  ): Promise<{ outcome: PromotionOutcome; result?: ActivationResult; reason?: string }> {
    const { name, version } = event;
    try {
      if ((await loader.productionVersion(name)) !== version) return { outcome: 'superseded' };
      if (cache.current(name)?.version === version) return { outcome: 'already_active', result: ActivationResult.OK };
      const retained = cache.get(name, version);
      const model: LoadedModel = retained ?? (await loader.load(name, version, { expectedSha256: event.artifactSha256 || undefined }));
      // Loading takes a while: another instance's failure may have rolled this version back meanwhile.
      if (!(await stillProduction(name, version))) {
        if (!retained) void retireModel(model, 0);
        return { outcome: 'superseded' };
      }
      cache.activate(model);
      return { outcome: 'activated', result: ActivationResult.OK };
    } catch (error) {
      if (isTransient(error) && !last) throw error;
      const why = error instanceof Error ? error.message : String(error);
      return {
        outcome: 'failed',
        result: ActivationResult.FAILED,
        reason: isTransient(error) ? `gave up after ${maxDeliver} attempts: ${why}` : why,
      };
    }
  }

  return {
    async promoted(event, delivery) {
      requireEvent(event.name, event.version, `promotion ${event.promotionId}`);
      if (!event.promotionId) throw new EventRejectedError(`promotion of ${event.name}/${event.version} has no promotion id`);
      const started = performance.now();
      return serial(event.name, async () => {
        const known = answers.get(event.promotionId);
        if (known) {
          await answer(event, known.result, known.reason, started);
          return 'answered_before';
        }
        const decision = await decide(event, delivery.deliveryCount >= maxDeliver);
        if (decision.result === undefined) {
          logger.info(
            { model: event.name, version: event.version, promotionId: event.promotionId },
            'promotion skipped: the version is no longer in Production',
          );
          return decision.outcome;
        }
        // Remembered before publishing: if the publish fails, the redelivery repeats this answer.
        remember(event.promotionId, decision.result, decision.reason ?? '');
        await answer(event, decision.result, decision.reason ?? '', started);
        const fields = {
          model: event.name,
          version: event.version,
          promotionId: event.promotionId,
          outcome: decision.outcome,
          reason: decision.reason,
        };
        if (decision.result === ActivationResult.FAILED) logger.warn(fields, 'activation failed; the previous version keeps serving');
        else logger.info(fields, 'activation answered');
        return decision.outcome;
      });
    },

    async rolledBack(event, delivery) {
      requireEvent(event.name, event.failedVersion, `rollback ${event.promotionId}`);
      const { name, failedVersion, restoredVersion } = event;
      return serial(name, async () => {
        if (cache.current(name)?.version !== failedVersion) {
          // A retained copy of the failed version must not answer pinned requests either.
          cache.remove(name, failedVersion);
          return 'not_serving_failed_version';
        }
        if (restoredVersion === 0) {
          cache.remove(name, failedVersion);
          logger.warn({ model: name, failedVersion }, 'rolled back with no version to restore: the model is no longer served');
          return 'deactivated';
        }
        let model = cache.get(name, restoredVersion);
        if (!model) {
          try {
            model = await loader.load(name, restoredVersion);
          } catch (error) {
            if (isTransient(error) && delivery.deliveryCount < maxDeliver) throw error;
            // Better the version that works here than nothing at all.
            logger.error(
              { err: error, model: name, failedVersion, restoredVersion },
              'restored version cannot be loaded; the rolled-back version keeps serving',
            );
            return 'restore_failed';
          }
        }
        cache.activate(model);
        cache.remove(name, failedVersion);
        logger.warn(
          { model: name, failedVersion, restoredVersion, reason: event.reason, by: event.instanceId },
          'rolled back to the restored version',
        );
        return 'restored';
      });
    },

    async withdrawn(event, delivery) {
      requireEvent(event.name, event.version, `withdrawal ${event.changeId}`);
      const { name, version } = event;
      return serial(name, async () => {
        if (cache.current(name)?.version !== version) return 'not_serving';
        // A first start replays old withdrawals beside newer promotions (separate durables), so
        // the registry decides: a version promoted again since keeps serving.
        try {
          if ((await loader.productionVersion(name)) === version) return 'back_in_production';
        } catch (error) {
          if (isTransient(error) && delivery.deliveryCount < maxDeliver) throw error;
          logger.warn({ err: error, model: name, version }, 'registry unreachable; withdrawing as the event says');
        }
        cache.deactivate(name);
        logger.warn(
          { model: name, version, actor: event.actor, reason: event.reason },
          'withdrawn from Production: the model has no Production version here until one is promoted',
        );
        return 'withdrawn';
      });
    },
  };
}

/** The Production models at the registry, retried while it is unreachable (it may start after us). */
async function loadAtStart(options: ActivationOptions): Promise<ProductionLoad> {
  const deadline = Date.now() + (options.startupTimeoutMs ?? 60_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await options.loader.loadProduction();
    } catch (error) {
      if (!isTransient(error) || Date.now() >= deadline) throw error;
      options.logger.warn({ err: error, attempt }, 'registry not answering yet; retrying the Production list');
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt)));
    }
  }
}

/**
 * Loads every Production model into the cache, starts the ModelPromoted, ModelRolledBack and
 * ModelWithdrawn consumers of this instance, then marks the cache ready. Models that fail to load at start are
 * logged and left out; the others serve.
 * @throws when the registry's list stays unreadable for `startupTimeoutMs`, or the consumers cannot start.
 */
export async function startModelActivation(options: ActivationOptions): Promise<RunningActivation> {
  const { cache, events, logger } = options;
  const initial = await loadAtStart(options);
  for (const model of initial.loaded) cache.activate(model);
  const handlers = createActivationHandlers(options);
  const durables = activationDurables(options.instanceId);
  const consumeOptions = {
    concurrency: 1,
    maxDeliver: options.maxDeliver ?? DEFAULT_MAX_DELIVER,
    backoffMs: options.backoffMs ?? DEFAULT_BACKOFF_MS,
    ackWaitMs: options.ackWaitMs ?? 180_000,
  };
  const subscriptions: EventSubscription[] = [];
  try {
    subscriptions.push(
      await events.consume(
        MeshEvents.modelPromoted,
        { ...consumeOptions, durable: durables.promotions },
        async (event, delivery) => void (await handlers.promoted(event, delivery)),
      ),
    );
    subscriptions.push(
      await events.consume(
        MeshEvents.modelRolledBack,
        { ...consumeOptions, durable: durables.rollbacks },
        async (event, delivery) => void (await handlers.rolledBack(event, delivery)),
      ),
    );
    subscriptions.push(
      await events.consume(
        MeshEvents.modelWithdrawn,
        { ...consumeOptions, durable: durables.withdrawals },
        async (event, delivery) => void (await handlers.withdrawn(event, delivery)),
      ),
    );
  } catch (error) {
    await Promise.allSettled(subscriptions.map((s) => s.stop()));
    throw error;
  }
  cache.markReady();
  logger.info(
    {
      models: initial.loaded.map((m) => `${m.name}/${m.version}`),
      failed: initial.failed.map((f) => `${f.model}/${f.version}: ${f.message}`),
      durables,
    },
    'models loaded; following promotions',
  );
  return {
    initial,
    async stop() {
      await Promise.allSettled(subscriptions.map((s) => s.stop()));
    },
  };
}
