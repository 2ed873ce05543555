import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { ActivationResult, ModelActivationSchema, type ModelPromoted } from '../../gen/nepse/events/v1/events_pb.js';
import { ChangeKind, ModelStatus, Stage, type HistoryEntry } from '../../gen/nepse/registry/v1/registry_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { NO_KEY, type EventSubscription } from '../../lib/events/index.js';
import { waitFor } from '../../lib/events/testing.js';
import { ACTIVATION_DURABLE } from './activation-consumer.js';
import { failure } from '../../testing/calls.js';
import { startTestBed, startTestFeatureService, testBackends, type TestBed, type TestFeatureService } from '../../testing/registry-bed.js';
import { linearModel, registerRequests, registrationFor } from '../../testing/models.js';

const WIDTH = 25;
const backends = await testBackends();
let feature: TestFeatureService;

before(async () => {
  feature = await startTestFeatureService();
});

after(async () => {
  await feature?.stop();
  for (const backend of backends) await backend.cleanup();
});

/** How the fake prediction instance answers a promotion: OK, FAILED with a reason, or not at all. */
type Answer = { result: 'ok' } | { result: 'failed'; reason: string } | { result: 'silent' };

const stage = (s: Stage) => Stage[s];
const kind = (e: HistoryEntry) => ChangeKind[e.kind];

for (const backend of backends) {
  describe(`promotion saga on ${backend.label}`, { skip: backend.skip ?? false }, () => {
    let bed: TestBed;
    let prediction: EventSubscription;
    /** Decides the fake prediction instance's answer per promoted version (`name/version`); OK by default. */
    const answers = new Map<string, Answer>();

    const registerVersions = async (name: string, count: number) => {
      for (let i = 0; i < count; i++)
        await bed.client.registerModel(registerRequests(registrationFor(name, WIDTH), linearModel({ width: WIDTH, bias: i / 100 })));
    };
    const promote = (name: string, version: number, actor = 'alice', reason = 'better holdout MAE') =>
      bed.client.transitionStage({ name, version, targetStage: Stage.PRODUCTION, actor, reason });
    const production = async (name: string) =>
      (await bed.client.listModels({ name, stage: Stage.PRODUCTION })).modelVersions.map((v) => v.version);
    const history = async (name: string) => (await bed.client.getModelHistory({ name, pageSize: 1000 })).entries;
    const settled = () =>
      waitFor(
        async () =>
          (await bed.bus.consumerLag(ACTIVATION_DURABLE)).total === 0 && (await bed.bus.consumerLag('fake-prediction')).total === 0,
        'the saga consumers to catch up',
      );
    const activation = (
      promoted: Pick<ModelPromoted, 'promotionId' | 'name' | 'version'>,
      result: ActivationResult,
      reason = '',
      instanceId = 'prediction-0',
    ) =>
      create(ModelActivationSchema, {
        promotionId: promoted.promotionId,
        name: promoted.name,
        version: promoted.version,
        instanceId,
        result,
        reason,
        durationMs: 12.5,
        occurredAt: timestampNow(),
      });

    before(async () => {
      bed = await startTestBed({ backend, featureAddress: feature.address });
      // A prediction instance as the prediction service will be: it answers each ModelPromoted.
      prediction = await bed.bus.consume(MeshEvents.modelPromoted, { durable: 'fake-prediction' }, async (promoted) => {
        const answer = answers.get(`${promoted.name}/${promoted.version}`) ?? { result: 'ok' };
        if (answer.result === 'silent') return;
        const result = answer.result === 'ok' ? ActivationResult.OK : ActivationResult.FAILED;
        await bed.bus.publish(
          MeshEvents.modelActivation,
          NO_KEY,
          activation(promoted, result, answer.result === 'failed' ? answer.reason : ''),
          { msgId: `models.activation:${promoted.promotionId}:prediction-0` },
        );
      });
    });
    after(async () => {
      await prediction?.stop();
      await bed?.stop();
    });

    it('leaves exactly one Production version after 10 concurrent promotions, and the history tells the same story', async () => {
      await registerVersions('race', 10);
      const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => promote('race', i + 1, `racer-${i + 1}`)));
      assert.equal(new Set(responses.map((r) => r.promotionId)).size, 10);
      assert.ok(responses.every((r) => r.modelVersion?.stage === Stage.PRODUCTION));
      await settled();

      const live = await production('race');
      assert.equal(live.length, 1);
      assert.equal((await bed.client.listModels({ name: 'race', stage: Stage.ARCHIVED })).modelVersions.length, 9);
      // Replaying the history: each promotion archived exactly the version promoted just before it.
      const promotions = (await history('race')).filter((e) => kind(e) === 'STAGE_CHANGED' && e.toStage === Stage.PRODUCTION);
      const archivals = (await history('race')).filter((e) => kind(e) === 'STAGE_CHANGED' && e.toStage === Stage.ARCHIVED);
      assert.equal(promotions.length, 10);
      assert.equal(archivals.length, 9);
      promotions.forEach((p, i) => {
        const before = i === 0 ? 0 : promotions[i - 1].version;
        assert.equal(p.relatedVersion, before, `promotion ${i + 1} replaced the one before it`);
        assert.equal(responses[p.version - 1].previousProductionVersion, before);
        assert.equal(responses[p.version - 1].promotionId, p.promotionId);
        if (i > 0)
          assert.ok(archivals.some((a) => a.version === before && a.promotionId === p.promotionId && a.fromStage === Stage.PRODUCTION));
      });
      assert.equal(live[0], promotions[9].version);
      const events = bed.events.of(MeshEvents.modelPromoted, (m) => m.name === 'race');
      assert.deepEqual(new Set(events.map((e) => e.msgId)), new Set(responses.map((r) => `models.promoted:${r.promotionId}`)));
      for (const r of responses) {
        const event = events.find((e) => e.message.promotionId === r.promotionId)!.message;
        assert.deepEqual(
          [event.version, event.previousProductionVersion, event.artifactSha256],
          [r.modelVersion?.version, r.previousProductionVersion, r.modelVersion?.artifact?.sha256],
        );
      }
      assert.deepEqual(bed.events.of(MeshEvents.modelRolledBack), [], 'every activation was OK');
      // Promoting the Production version again changes nothing and answers its saga.
      const again = await promote('race', live[0]);
      assert.equal(again.promotionId, responses[live[0] - 1].promotionId);
      assert.equal((await history('race')).length, 10 + 10 + 9);
    });

    it('rolls a failed activation back to the previous version and publishes ModelRolledBack, once', async () => {
      await registerVersions('saga', 2);
      answers.set('saga/2', { result: 'failed', reason: 'smoke test: output is NaN' });
      await promote('saga', 1);
      await settled();
      const promoted = await promote('saga', 2, 'training:job-7', 'beats no-change by 3%');
      assert.equal(promoted.previousProductionVersion, 1);

      const rolledBack = await waitFor(
        () => bed.events.of(MeshEvents.modelRolledBack, (m) => m.promotionId === promoted.promotionId)[0],
        'ModelRolledBack',
      );
      assert.equal(rolledBack.msgId, `models.rolled_back:${promoted.promotionId}`);
      assert.deepEqual(
        [
          rolledBack.message.name,
          rolledBack.message.failedVersion,
          rolledBack.message.restoredVersion,
          rolledBack.message.instanceId,
          rolledBack.message.reason,
        ],
        ['saga', 2, 1, 'prediction-0', 'smoke test: output is NaN'],
      );
      assert.deepEqual(await production('saga'), [1]);
      const failed = (await bed.client.getModel({ name: 'saga', selector: { case: 'version', value: 2 } })).modelVersion!;
      assert.deepEqual([stage(failed.stage), ModelStatus[failed.status]], ['ARCHIVED', 'ACTIVATION_FAILED']);
      assert.match(failed.statusReason, /prediction-0: smoke test: output is NaN/);

      const saga = (await history('saga')).filter((e) => e.promotionId === promoted.promotionId);
      assert.deepEqual(
        saga.map((e) => [kind(e), e.version, stage(e.fromStage), stage(e.toStage), e.relatedVersion, e.actor]),
        [
          ['STAGE_CHANGED', 1, 'PRODUCTION', 'ARCHIVED', 2, 'training:job-7'],
          ['STAGE_CHANGED', 2, 'NONE', 'PRODUCTION', 1, 'training:job-7'],
          ['ACTIVATION_FAILED', 2, 'UNSPECIFIED', 'UNSPECIFIED', 0, 'prediction-0'],
          ['ROLLED_BACK', 2, 'PRODUCTION', 'ARCHIVED', 1, 'registry'],
          ['STAGE_CHANGED', 1, 'ARCHIVED', 'PRODUCTION', 2, 'registry'],
        ],
      );
      const f = await failure(promote('saga', 2));
      assert.equal(f.code, 9);
      assert.match(f.message, /failed activation/);

      // Redelivered, and reported again by a second instance: recorded, nothing else changes.
      const entries = (await history('saga')).length;
      const same = activation(
        { promotionId: promoted.promotionId, name: 'saga', version: 2 },
        ActivationResult.FAILED,
        'smoke test: output is NaN',
      );
      await bed.bus.publish(MeshEvents.modelActivation, NO_KEY, same, { msgId: 'redelivered-1' });
      await bed.bus.publish(
        MeshEvents.modelActivation,
        NO_KEY,
        activation({ promotionId: promoted.promotionId, name: 'saga', version: 2 }, ActivationResult.FAILED, 'load error', 'prediction-1'),
        { msgId: 'second-instance' },
      );
      await settled();
      assert.equal((await history('saga')).length, entries);
      assert.equal(bed.events.of(MeshEvents.modelRolledBack, (m) => m.name === 'saga').length, 1);
      assert.deepEqual(await production('saga'), [1]);
    });

    it('leaves no Production version when the first promotion of a model fails', async () => {
      await registerVersions('fresh', 1);
      answers.set('fresh/1', { result: 'failed', reason: 'checksum mismatch' });
      const promoted = await promote('fresh', 1);
      const rolledBack = await waitFor(
        () => bed.events.of(MeshEvents.modelRolledBack, (m) => m.promotionId === promoted.promotionId)[0],
        'ModelRolledBack',
      );
      assert.equal(rolledBack.message.restoredVersion, 0);
      assert.deepEqual(await production('fresh'), []);
      assert.equal((await failure(bed.client.getModel({ name: 'fresh', selector: { case: 'stage', value: Stage.PRODUCTION } }))).code, 5);
    });

    it('marks a late failure of a superseded promotion without rolling anything back', async () => {
      await registerVersions('late', 2);
      answers.set('late/1', { result: 'silent' });
      const first = await promote('late', 1);
      await promote('late', 2);
      await settled();
      await bed.bus.publish(
        MeshEvents.modelActivation,
        NO_KEY,
        activation({ promotionId: first.promotionId, name: 'late', version: 1 }, ActivationResult.FAILED, 'out of memory'),
        { msgId: 'late-failure' },
      );
      await settled();
      assert.deepEqual(await production('late'), [2]);
      assert.equal(
        ModelStatus[(await bed.client.getModel({ name: 'late', selector: { case: 'version', value: 1 } })).modelVersion!.status],
        'ACTIVATION_FAILED',
      );
      assert.deepEqual(
        bed.events.of(MeshEvents.modelRolledBack, (m) => m.name === 'late'),
        [],
      );
      // An answer to a promotion the registry never made is dead-lettered, not retried forever.
      await bed.bus.publish(
        MeshEvents.modelActivation,
        NO_KEY,
        activation({ promotionId: 'no-such-promotion', name: 'late', version: 2 }, ActivationResult.FAILED, 'x'),
        { msgId: 'unknown' },
      );
      await settled();
      assert.deepEqual(await production('late'), [2]);
    });

    it('keeps every answer in the database and refuses to rewrite history', async () => {
      await bed.stopRegistry();
      const db = await bed.openDatabase();
      try {
        const rows = await db.query<{ name: string; result: string; n: number }>(
          `SELECT p.name, a.result, count(*)::int AS n FROM activations a JOIN promotions p USING (promotion_id) GROUP BY p.name, a.result ORDER BY p.name, a.result`,
        );
        assert.deepEqual(rows, [
          { name: 'fresh', result: 'failed', n: 1 },
          { name: 'late', result: 'failed', n: 1 },
          { name: 'late', result: 'ok', n: 1 },
          { name: 'race', result: 'ok', n: 10 },
          { name: 'saga', result: 'failed', n: 2 },
          { name: 'saga', result: 'ok', n: 1 },
        ]);
        const states = await db.query<{ state: string; n: number }>(
          `SELECT state, count(*)::int AS n FROM promotions GROUP BY state ORDER BY state`,
        );
        assert.deepEqual(states, [
          { state: 'active', n: 2 },
          { state: 'rolled_back', n: 2 },
          { state: 'superseded', n: 11 },
        ]);
        await assert.rejects(db.query(`UPDATE model_history SET reason = 'rewritten'`), /append-only/);
        await assert.rejects(db.query(`DELETE FROM model_history`), /append-only/);
        assert.equal((await db.query(`SELECT 1 FROM event_outbox WHERE sent_at IS NULL`)).length, 0, 'every event was published');
      } finally {
        await db.close();
      }
    });
  });
}
