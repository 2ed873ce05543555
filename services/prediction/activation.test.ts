import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  ActivationResult,
  ModelActivationSchema,
  ModelRolledBackSchema,
  ModelWithdrawnSchema,
  type ModelActivation,
} from '../../gen/nepse/events/v1/events_pb.js';
import { ModelStatus, Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { connectEvents, NO_KEY, type EventBus } from '../../lib/events/index.js';
import { waitFor } from '../../lib/events/testing.js';
import { createLogger } from '../../lib/telemetry/index.js';
import type { SeenEvent } from '../../testing/event-log.js';
import { startTestBed, startTestFeatureService, type TestBed, type TestFeatureService } from '../../testing/registry-bed.js';
import { linearModel, registerRequests, registrationFor, sha256Hex } from '../../testing/models.js';
import {
  activationDurables,
  createActivationHandlers,
  startModelActivation,
  type ActivationOptions,
  type RunningActivation,
} from './activation.js';
import { expectedLinear, nanOnNonZeroModel, openLinear, testRows, TEST_WIDTH } from '../../testing/inference-models.js';
import { infer, ModelCache } from './model-cache.js';
import { createModelLoader, type ModelLoader } from './model-loader.js';

const INSTANCE = 'prediction-test-0';
const logger = createLogger('prediction-test', process.env.LOG_LEVEL ?? 'silent');

describe('the promotion saga, prediction side', () => {
  let feature: TestFeatureService;
  let bed: TestBed;
  let bus: EventBus;
  let loader: ModelLoader;
  let activation: RunningActivation | undefined;
  const cache = new ModelCache();
  /** Promotion ids by version of `alpha`. */
  const promotions = new Map<number, string>();

  const register = async (artifact: Uint8Array) =>
    (await bed.client.registerModel(registerRequests(registrationFor('alpha', TEST_WIDTH), artifact))).modelVersion!.version;
  const promote = async (version: number) => {
    const response = await bed.client.transitionStage({
      name: 'alpha',
      version,
      targetStage: Stage.PRODUCTION,
      actor: 'test',
      reason: `promote ${version}`,
    });
    promotions.set(version, response.promotionId);
    return response.promotionId;
  };
  const production = async () =>
    (await bed.client.listModels({ name: 'alpha', stage: Stage.PRODUCTION })).modelVersions.map((v) => v.version);
  const answersOf = (instanceId: string, promotionId?: string): SeenEvent<ModelActivation>[] =>
    bed.events.of(
      MeshEvents.modelActivation,
      (m) => m.instanceId === instanceId && (promotionId === undefined || m.promotionId === promotionId),
    );
  const answerOf = (promotionId: string, instanceId = INSTANCE) =>
    waitFor(() => answersOf(instanceId, promotionId)[0], `${instanceId}'s answer to ${promotionId}`);
  const rollbackOf = (promotionId: string) =>
    waitFor(() => bed.events.of(MeshEvents.modelRolledBack, (m) => m.promotionId === promotionId)[0], `the rollback of ${promotionId}`);
  const idle = (instanceId: string) => {
    const { promotions: p, rollbacks: r } = activationDurables(instanceId);
    return waitFor(
      async () => (await bus.consumerLag(p)).total === 0 && (await bus.consumerLag(r)).total === 0,
      `${instanceId}'s consumers to catch up`,
    );
  };
  const options = (overrides: Partial<ActivationOptions> = {}): ActivationOptions => ({
    cache,
    loader,
    events: bus,
    instanceId: INSTANCE,
    logger,
    backoffMs: [200],
    ...overrides,
  });
  /** Answers of version `bias` on fixed rows, to tell versions apart by what they compute. */
  const rows = testRows(3, 5);
  const answersLike = async (bias: number) => {
    const out = await infer(cache.current('alpha')!, rows, 3);
    return expectedLinear(rows, bias).every((v, i) => Math.abs(out[i] - v) < 1e-5);
  };

  before(async () => {
    feature = await startTestFeatureService();
    bed = await startTestBed({ backend: { label: 'pglite', cleanup: async () => {} }, featureAddress: feature.address });
    bus = await connectEvents({ servers: bed.nats.url, name: 'prediction-test', logger });
    loader = createModelLoader({ registry: bed.client, logger });
    // In Production before the instance starts; its saga waits for an answer.
    await register(linearModel({ width: TEST_WIDTH, bias: 0.01 }));
    await promote(1);
  });
  after(async () => {
    await activation?.stop();
    await bus?.close();
    await cache.close();
    await bed?.stop();
    await feature?.stop();
  });

  it('loads the Production models at start, then answers the saga that was waiting', async () => {
    activation = await startModelActivation(options());
    assert.equal(cache.ready, true);
    assert.deepEqual(
      activation.initial.loaded.map((m) => `${m.name}/${m.version}`),
      ['alpha/1'],
    );
    assert.equal(cache.current('alpha')?.version, 1);
    assert.ok(await answersLike(0.01));
    const answer = await answerOf(promotions.get(1)!);
    assert.equal(answer.msgId, `models.activation:${promotions.get(1)}:${INSTANCE}`);
    assert.deepEqual(
      [answer.message.name, answer.message.version, answer.message.result, answer.message.reason],
      ['alpha', 1, ActivationResult.OK, ''],
    );
  });

  it('loads, swaps in and answers OK a promoted version; the registry keeps it in Production', async () => {
    assert.equal(await register(linearModel({ width: TEST_WIDTH, bias: 0.02 })), 2);
    const promotionId = await promote(2);
    const answer = await answerOf(promotionId);
    assert.deepEqual([answer.message.version, answer.message.result], [2, ActivationResult.OK]);
    assert.ok(answer.message.durationMs > 0);
    assert.equal(cache.current('alpha')?.version, 2, 'swapped before answering');
    assert.ok(await answersLike(0.02));
    assert.equal(cache.get('alpha', 1)?.version, 1, 'the replaced version is kept for pinned requests');
    await idle(INSTANCE);
    assert.deepEqual(await production(), [2]);
    assert.deepEqual(bed.events.of(MeshEvents.modelRolledBack), []);
  });

  it('answers FAILED for a version whose smoke test fails here, keeps serving the old one, and the registry rolls back', async () => {
    // Finite on the registry's zero vectors, so it registers; NaN on real-looking rows.
    assert.equal(await register(nanOnNonZeroModel()), 3);
    const served = new Set<number>();
    const sampler = setInterval(() => served.add(cache.current('alpha')!.version), 2);
    try {
      const promotionId = await promote(3);
      const answer = await answerOf(promotionId);
      assert.equal(answer.message.result, ActivationResult.FAILED);
      assert.match(answer.message.reason, /^smoke test: the model answers NaN for row 1 of \[2, 25\]/);
      const rolledBack = await rollbackOf(promotionId);
      assert.deepEqual(
        [rolledBack.message.failedVersion, rolledBack.message.restoredVersion, rolledBack.message.instanceId],
        [3, 2, INSTANCE],
      );
      await idle(INSTANCE);
    } finally {
      clearInterval(sampler);
    }
    assert.deepEqual([...served], [2], 'version 2 served throughout');
    assert.ok(await answersLike(0.02));
    assert.equal(cache.get('alpha', 3), undefined);
    assert.deepEqual(await production(), [2]);
    const failed = (await bed.client.getModel({ name: 'alpha', selector: { case: 'version', value: 3 } })).modelVersion!;
    assert.deepEqual([Stage[failed.stage], ModelStatus[failed.status]], ['ARCHIVED', 'ACTIVATION_FAILED']);
    assert.match(failed.statusReason, new RegExp(`^${INSTANCE}: smoke test`));
  });

  it('answers FAILED for an artifact damaged in the store (DATA_LOSS at download), and the registry rolls back', async () => {
    const artifact = linearModel({ width: TEST_WIDTH, bias: 0.04 });
    assert.equal(await register(artifact), 4);
    await bed.artifacts.putBlob({ name: sha256Hex(artifact) }, linearModel({ width: TEST_WIDTH, bias: 0.99 }));
    const promotionId = await promote(4);
    const answer = await answerOf(promotionId);
    assert.equal(answer.message.result, ActivationResult.FAILED);
    assert.match(answer.message.reason, /^download: the registry answered DATA_LOSS: /);
    assert.equal((await rollbackOf(promotionId)).message.restoredVersion, 2);
    await idle(INSTANCE);
    assert.equal(cache.current('alpha')?.version, 2);
    assert.deepEqual(await production(), [2]);
  });

  it('goes back to the restored version when another instance failed the one served here', async () => {
    assert.equal(await register(linearModel({ width: TEST_WIDTH, bias: 0.05 })), 5);
    const promotionId = await promote(5);
    assert.equal((await answerOf(promotionId)).message.result, ActivationResult.OK);
    assert.equal(cache.current('alpha')?.version, 5);
    const failure = create(ModelActivationSchema, {
      promotionId,
      name: 'alpha',
      version: 5,
      instanceId: 'prediction-other',
      result: ActivationResult.FAILED,
      reason: 'out of memory',
      occurredAt: timestampNow(),
    });
    await bus.publish(MeshEvents.modelActivation, NO_KEY, failure, { msgId: `models.activation:${promotionId}:prediction-other` });
    await rollbackOf(promotionId);
    await waitFor(() => cache.current('alpha')?.version === 2, 'version 2 to serve again');
    await idle(INSTANCE);
    assert.equal(cache.get('alpha', 5), undefined, 'the rolled-back version is unloaded');
    assert.ok(await answersLike(0.02));
    assert.deepEqual(await production(), [2]);
  });

  it('repeats its answer on redelivery without loading again, and skips promotions no longer in Production', async () => {
    let loads = 0;
    const counting: ModelLoader = { ...loader, load: (...args) => (loads++, loader.load(...args)) };
    const handlers = createActivationHandlers(options({ loader: counting, instanceId: 'prediction-redelivery' }));
    const promoted = (version: number) =>
      bed.events.of(MeshEvents.modelPromoted, (m) => m.promotionId === promotions.get(version))[0].message;
    assert.equal(await handlers.promoted(promoted(2), { deliveryCount: 1 }), 'already_active');
    assert.equal(await handlers.promoted(promoted(2), { deliveryCount: 2 }), 'answered_before');
    assert.equal(await handlers.promoted(promoted(5), { deliveryCount: 1 }), 'superseded');
    assert.equal(await handlers.promoted(promoted(1), { deliveryCount: 1 }), 'superseded');
    const rolledBack = bed.events.of(MeshEvents.modelRolledBack, (m) => m.failedVersion === 5)[0].message;
    assert.equal(await handlers.rolledBack(rolledBack, { deliveryCount: 3 }), 'not_serving_failed_version');
    assert.equal(loads, 0);
    assert.equal(cache.current('alpha')?.version, 2);
    await waitFor(() => answersOf('prediction-redelivery').length >= 2, 'both answers published');
    assert.ok(
      answersOf('prediction-redelivery').every(
        (a) => a.message.promotionId === promotions.get(2) && a.message.result === ActivationResult.OK,
      ),
    );
  });

  it('retries while the registry is unreachable, and answers FAILED on the last allowed delivery', async () => {
    const unavailable = () => Promise.reject(Object.assign(new Error('14 UNAVAILABLE: connect ECONNREFUSED'), { code: 14 }));
    const flaky: ModelLoader = { load: unavailable, loadProduction: unavailable, productionVersion: unavailable };
    const handlers = createActivationHandlers(options({ loader: flaky, instanceId: 'prediction-flaky', maxDeliver: 3 }));
    // A promotion the registry never made: the registry dead-letters the answer, nothing else changes.
    const event = {
      ...bed.events.of(MeshEvents.modelPromoted, (m) => m.promotionId === promotions.get(2))[0].message,
      promotionId: 'promotion-while-down',
    };
    await assert.rejects(handlers.promoted(event, { deliveryCount: 1 }), { code: 14 });
    await assert.rejects(handlers.promoted(event, { deliveryCount: 2 }), { code: 14 });
    assert.equal(await handlers.promoted(event, { deliveryCount: 3 }), 'failed');
    const answer = await answerOf('promotion-while-down', 'prediction-flaky');
    assert.equal(answer.message.result, ActivationResult.FAILED);
    assert.equal(answer.message.reason, 'gave up after 3 attempts: 14 UNAVAILABLE: connect ECONNREFUSED');
    assert.equal(cache.current('alpha')?.version, 2);
  });

  it('stops serving a model whose rollback restores no version', async () => {
    const own = new ModelCache();
    own.activate(await openLinear('solo', 1, 0.3));
    const handlers = createActivationHandlers(options({ cache: own, instanceId: 'prediction-solo' }));
    const rolledBack = create(ModelRolledBackSchema, {
      promotionId: 'p-solo',
      name: 'solo',
      failedVersion: 1,
      restoredVersion: 0,
      instanceId: 'prediction-other',
      reason: 'x',
    });
    assert.equal(await handlers.rolledBack(rolledBack, { deliveryCount: 1 }), 'deactivated');
    assert.deepEqual([own.current('solo'), own.get('solo', 1)], [undefined, undefined]);
    await own.close();
  });

  it('stops serving a withdrawn version unless the registry has it in Production again', async () => {
    const own = new ModelCache();
    own.activate(await openLinear('solo', 2, 0.3));
    let production = 2;
    const handlers = createActivationHandlers(
      options({ cache: own, instanceId: 'prediction-solo', loader: { ...loader, productionVersion: async () => production } }),
    );
    const withdrawn = (version: number) =>
      create(ModelWithdrawnSchema, { changeId: `w-${version}`, name: 'solo', version, stage: Stage.ARCHIVED, actor: 'test' });
    // Replayed after a newer promotion of the same version: it keeps serving.
    assert.equal(await handlers.withdrawn(withdrawn(2), { deliveryCount: 1 }), 'back_in_production');
    assert.equal(own.current('solo')?.version, 2);
    assert.equal(await handlers.withdrawn(withdrawn(1), { deliveryCount: 1 }), 'not_serving');
    production = 0;
    assert.equal(await handlers.withdrawn(withdrawn(2), { deliveryCount: 1 }), 'withdrawn');
    assert.equal(own.current('solo'), undefined);
    assert.equal(own.get('solo', 2)?.version, 2, 'kept for requests that pin the version, as a replaced version is');
    await own.close();
  });

  it('waits at start for a registry that is not answering yet', async () => {
    let attempts = 0;
    const starting: ModelLoader = {
      ...loader,
      loadProduction: async () => {
        if (++attempts < 3) throw Object.assign(new Error('14 UNAVAILABLE: no connection established'), { code: 14 });
        return { loaded: [], failed: [] };
      },
      productionVersion: async () => 0,
    };
    const own = new ModelCache();
    const started = await startModelActivation(options({ cache: own, loader: starting, instanceId: 'prediction-late' }));
    await started.stop();
    assert.deepEqual([attempts, own.ready], [3, true]);
    await own.close();
  });

  it('on a first start, replays the stream but answers only the promotion still in Production', async () => {
    const fresh = new ModelCache();
    const changes: string[] = [];
    fresh.onChange((name, current) => changes.push(`${name}:${current?.version}`));
    const second = await startModelActivation(options({ cache: fresh, instanceId: 'prediction-fresh' }));
    try {
      await idle('prediction-fresh');
      assert.deepEqual(changes, ['alpha:2'], 'only the Production version was ever served');
      assert.deepEqual(
        answersOf('prediction-fresh').map((a) => [a.message.version, a.message.result]),
        [[2, ActivationResult.OK]],
      );
    } finally {
      await second.stop();
      await fresh.close();
    }
  });

  it('left every answer in the registry, once per promotion and instance', async () => {
    await activation?.stop();
    activation = undefined;
    await bed.stopRegistry();
    const db = await bed.openDatabase();
    try {
      const rows = await db.query<{ version: number; state: string; instance_id: string; result: string }>(
        `SELECT p.version, p.state, a.instance_id, a.result FROM activations a JOIN promotions p USING (promotion_id)`,
      );
      assert.deepEqual(rows.map((r) => `${r.version} ${r.state} ${r.instance_id} ${r.result}`).sort(), [
        `1 superseded ${INSTANCE} ok`,
        '2 superseded prediction-fresh ok',
        '2 superseded prediction-redelivery ok',
        `2 superseded ${INSTANCE} ok`,
        `3 rolled_back ${INSTANCE} failed`,
        `4 rolled_back ${INSTANCE} failed`,
        '5 rolled_back prediction-other failed',
        `5 rolled_back ${INSTANCE} ok`,
      ]);
    } finally {
      await db.close();
    }
  });
});
