import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChangeKind, Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { waitFor } from '../../lib/events/testing.js';
import { grpc, statusDetails, type StatusDetails } from '../../lib/grpc/index.js';
import { ALLOWED_MOVES } from './stage-machine.js';
import { startTestBed, startTestFeatureService, testBackends, type TestBed, type TestFeatureService } from '../../testing/registry-bed.js';
import { linearModel, registerRequests, registrationFor } from '../../testing/models.js';

const WIDTH = 25; // ohlcv_v1
const backends = await testBackends();
let feature: TestFeatureService;

before(async () => {
  feature = await startTestFeatureService();
});

after(async () => {
  await feature?.stop();
  for (const backend of backends) await backend.cleanup();
});

const STAGES = { none: Stage.NONE, staging: Stage.STAGING, production: Stage.PRODUCTION, archived: Stage.ARCHIVED } as const;

for (const backend of backends) {
  describe(`stage machine on ${backend.label}`, { skip: backend.skip ?? false }, () => {
    let bed: TestBed;
    let registered = 0;
    /** A fresh model name with one registered version (stage NONE). */
    const freshModel = async () => {
      const name = `stages-${++registered}`;
      await bed.client.registerModel(registerRequests(registrationFor(name, WIDTH), linearModel({ width: WIDTH, bias: registered / 100 })));
      return name;
    };
    const move = (name: string, version: number, targetStage: Stage, reason = 'test') =>
      bed.client.transitionStage({ name, version, targetStage, actor: 'operator', reason });
    const stageOf = async (name: string, version: number) =>
      (await bed.client.getModel({ name, selector: { case: 'version', value: version } })).modelVersion!.stage;
    const history = async (name: string) => (await bed.client.getModelHistory({ name, pageSize: 1000 })).entries;
    const refusal = async (call: Promise<unknown>): Promise<StatusDetails> => {
      const error = await call.then(
        () => assert.fail('expected the move to be refused'),
        (e: unknown) => e,
      );
      const details = statusDetails(error);
      assert.ok(details, `a status with details, got ${String(error)}`);
      return details;
    };

    before(async () => {
      bed = await startTestBed({ backend, featureAddress: feature.address });
    });
    after(async () => {
      await bed?.stop();
    });

    it('an archived version may not go straight back to Production: FAILED_PRECONDITION naming the move, nothing written or announced', async () => {
      const name = await freshModel();
      await move(name, 1, Stage.STAGING);
      const promoted = await move(name, 1, Stage.PRODUCTION);
      await move(name, 1, Stage.ARCHIVED, 'bad predictions');
      const before = await history(name);

      const refused = await refusal(move(name, 1, Stage.PRODUCTION, 'fixed'));
      assert.equal(refused.code, grpc.status.FAILED_PRECONDITION);
      assert.equal(refused.reason, 'STAGE_TRANSITION_NOT_ALLOWED');
      assert.match(refused.message, /ARCHIVED -> PRODUCTION/);
      assert.match(refused.message, /STAGING first/);
      assert.deepEqual(refused.preconditionViolations, [
        { type: 'STAGE_TRANSITION', subject: `${name}/1`, description: 'ARCHIVED -> PRODUCTION is not allowed (from ARCHIVED: STAGING)' },
      ]);
      assert.equal(await stageOf(name, 1), Stage.ARCHIVED);
      assert.deepEqual(await history(name), before, 'no history entry');
      assert.equal(
        (await refusal(move(name, 1, Stage.NONE))).preconditionViolations[0]?.description,
        'ARCHIVED -> NONE is not allowed (from ARCHIVED: STAGING)',
      );

      // The legal way back: through Staging. Its promotion is announced; the refused one never was.
      await move(name, 1, Stage.STAGING, 're-validate');
      const again = await move(name, 1, Stage.PRODUCTION, 're-validated');
      assert.equal(again.modelVersion?.stage, Stage.PRODUCTION);
      await waitFor(
        () => bed.events.of(MeshEvents.modelPromoted, (m) => m.promotionId === again.promotionId)[0],
        'the second ModelPromoted',
      );
      assert.deepEqual(
        bed.events.of(MeshEvents.modelPromoted, (m) => m.name === name).map((e) => e.message.promotionId),
        [promoted.promotionId, again.promotionId],
      );
      assert.equal(bed.events.of(MeshEvents.modelWithdrawn, (m) => m.name === name).length, 1, 'one withdrawal: the move to Archived');
      assert.deepEqual(
        (await history(name)).filter((e) => e.kind === ChangeKind.STAGE_CHANGED).map((e) => `${Stage[e.fromStage]}->${Stage[e.toStage]}`),
        ['NONE->STAGING', 'STAGING->PRODUCTION', 'PRODUCTION->ARCHIVED', 'ARCHIVED->STAGING', 'STAGING->PRODUCTION'],
      );
    });

    it('a version archived by a newer promotion comes back only through Staging', async () => {
      const name = await freshModel();
      await bed.client.registerModel(registerRequests(registrationFor(name, WIDTH), linearModel({ width: WIDTH, bias: 0.5 })));
      await move(name, 1, Stage.PRODUCTION);
      await move(name, 2, Stage.PRODUCTION);
      assert.equal(await stageOf(name, 1), Stage.ARCHIVED);
      const refused = await refusal(move(name, 1, Stage.PRODUCTION, 'roll back by hand'));
      assert.equal(refused.code, grpc.status.FAILED_PRECONDITION);
      assert.equal(await stageOf(name, 2), Stage.PRODUCTION, 'the Production version stays');
      await move(name, 1, Stage.STAGING);
      assert.equal((await move(name, 1, Stage.PRODUCTION, 'roll back by hand')).previousProductionVersion, 2);
    });

    it('every move the contract lists is allowed, every other refused, and staying put changes nothing', async () => {
      const names = Object.keys(STAGES) as (keyof typeof STAGES)[];
      for (const from of names) {
        for (const to of names) {
          const name = await freshModel();
          // Reach `from` by allowed moves only.
          const path = { none: [], staging: [Stage.STAGING], production: [Stage.PRODUCTION], archived: [Stage.ARCHIVED] }[from];
          for (const stage of path) await move(name, 1, stage);
          const entries = (await history(name)).length;
          if (from === to) {
            assert.equal((await move(name, 1, STAGES[to])).modelVersion?.stage, STAGES[to]);
            assert.equal((await history(name)).length, entries, `${from} -> ${to} wrote nothing`);
          } else if (ALLOWED_MOVES[from].includes(to)) {
            assert.equal((await move(name, 1, STAGES[to])).modelVersion?.stage, STAGES[to], `${from} -> ${to}`);
          } else {
            const refused = await refusal(move(name, 1, STAGES[to]));
            assert.equal(refused.code, grpc.status.FAILED_PRECONDITION, `${from} -> ${to}`);
            assert.equal(await stageOf(name, 1), STAGES[from]);
          }
        }
      }
      // The machine itself, as registry.proto states it.
      assert.deepEqual(ALLOWED_MOVES, {
        none: ['staging', 'production', 'archived'],
        staging: ['none', 'production', 'archived'],
        production: ['none', 'staging', 'archived'],
        archived: ['staging'],
      });
    });
  });
}
