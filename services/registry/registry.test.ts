import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChangeKind, ModelStatus, Stage, type WatchModelsResponse } from '../../gen/nepse/registry/v1/registry_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { waitFor } from '../../lib/events/testing.js';
import { createGrpcClient } from '../../lib/grpc/index.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { registryConfig } from './config.js';
import { DOWNLOAD_CHUNK_BYTES } from './download-artifact.js';
import { startRegistry } from './service.js';
import { failure } from '../../testing/calls.js';
import { startTestBed, startTestFeatureService, testBackends, type TestBed, type TestFeatureService } from '../../testing/registry-bed.js';
import { linearModel, registerRequests, registrationFor, sha256Hex } from '../../testing/models.js';

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

for (const backend of backends) {
  describe(`registry on ${backend.label}`, { skip: backend.skip ?? false }, () => {
    let bed: TestBed;
    const register = (name: string, artifact: Uint8Array, overrides = {}) =>
      bed.client.registerModel(registerRequests(registrationFor(name, WIDTH, overrides), artifact));

    before(async () => {
      bed = await startTestBed({ backend, featureAddress: feature.address });
    });
    after(async () => {
      await bed?.stop();
    });

    it('refuses corrupt and mis-shaped artifacts with a clear error and leaves no trace', async () => {
      const good = linearModel({ width: WIDTH });
      const corrupt = Uint8Array.from(good, (b, i) => (i % 7 === 0 ? b ^ 0xa5 : b));
      const narrow = linearModel({ width: 3 });
      const renamed = linearModel({ width: WIDTH, inputName: 'x' });

      let f = await failure(register('refused', corrupt));
      assert.deepEqual([f.code, f.field], [3, 'chunk']);
      assert.match(f.message, /not a model ONNX Runtime can load/);
      f = await failure(register('refused', narrow));
      assert.deepEqual([f.code, f.field], [3, 'chunk']);
      assert.match(f.message, /3 features wide, but feature set ohlcv_v1 has 25 features/);
      f = await failure(register('refused', renamed));
      assert.deepEqual([f.code, f.field], [3, 'registration.input.name']);
      f = await failure(register('refused', good, { artifactSha256: sha256Hex(narrow) }));
      assert.deepEqual([f.code, f.field], [3, 'registration.artifact_sha256']);
      f = await failure(register('refused', good, { artifactSizeBytes: BigInt(good.byteLength + 1) }));
      assert.deepEqual([f.code, f.field], [3, 'registration.artifact_size_bytes']);
      f = await failure(register('refused', good, { input: { name: 'features', dataType: 1, shape: [-1n, 30n] } }));
      assert.deepEqual([f.code, f.field], [3, 'registration.input.shape']);
      assert.match(f.message, /declares 30 features, but feature set ohlcv_v1 has 25/);

      // No row, no object, no event.
      assert.deepEqual((await bed.client.listModels({ name: 'refused' })).modelVersions, []);
      assert.deepEqual([(await failure(bed.client.getModel({ name: 'refused' }))).code], [5]);
      for (const bytes of [corrupt, narrow, renamed, good]) assert.equal(await bed.artifacts.info(sha256Hex(bytes)), null);
      assert.deepEqual(bed.events.of(MeshEvents.modelRegistered), []);
    });

    it('registers, reads back and downloads a model with its checksum; the same bytes again are the same version', async () => {
      const artifact = linearModel({ width: WIDTH, bias: 0.01, padding: 600_000 });
      const sha256 = sha256Hex(artifact);
      const { modelVersion } = await register('ridge', artifact, {
        artifactSha256: sha256,
        artifactSizeBytes: BigInt(artifact.byteLength),
        tags: { algorithm: 'ridge' },
        trainingJobId: 'job-1',
      });
      assert.equal(modelVersion?.version, 1);
      assert.equal(modelVersion?.stage, Stage.NONE);
      assert.equal(modelVersion?.status, ModelStatus.READY);
      assert.equal(modelVersion?.artifact?.sha256, sha256);
      assert.equal(modelVersion?.artifact?.sizeBytes, BigInt(artifact.byteLength));
      assert.deepEqual(modelVersion?.tags, { algorithm: 'ridge' });
      assert.deepEqual(modelVersion?.input?.shape, [-1n, 25n]);
      assert.equal(modelVersion?.registeredBy, 'test');

      const got = (await bed.client.getModel({ name: 'ridge', selector: { case: 'version', value: 1 } })).modelVersion;
      assert.deepEqual(got, modelVersion);
      assert.notEqual(await bed.artifacts.info(sha256), null);

      const messages = await Array.fromAsync(bed.client.downloadArtifact({ name: 'ridge', version: 1 }));
      assert.equal(messages[0].content.case, 'artifact');
      assert.equal(messages[0].content.case === 'artifact' && messages[0].content.value.sha256, sha256);
      const chunks = messages.slice(1).map((m) => (m.content.case === 'chunk' ? m.content.value : new Uint8Array()));
      assert.ok(chunks.length >= 3 && chunks.every((c) => c.byteLength > 0 && c.byteLength <= DOWNLOAD_CHUNK_BYTES));
      assert.equal(sha256Hex(Buffer.concat(chunks)), sha256);

      const again = await register('ridge', artifact);
      assert.equal(again.modelVersion?.version, 1);
      const second = await register('ridge', linearModel({ width: WIDTH, bias: 0.02 }));
      assert.equal(second.modelVersion?.version, 2);
      await waitFor(() => bed.events.of(MeshEvents.modelRegistered).length === 2, 'two ModelRegistered events');
      const [first] = bed.events.of(MeshEvents.modelRegistered);
      assert.equal(first.msgId, 'models.registered:ridge:1');
      assert.deepEqual(
        [first.message.name, first.message.version, first.message.artifactSha256, first.message.trainingJobId],
        ['ridge', 1, sha256, 'job-1'],
      );
      assert.equal((await bed.client.listModels({ name: 'ridge' })).modelVersions.length, 2);
    });

    it('answers DATA_LOSS when a stored artifact no longer matches its checksum', async () => {
      const artifact = linearModel({ width: WIDTH, bias: 0.5 });
      const { modelVersion } = await register('tampered', artifact);
      // Someone overwrites the object with other bytes under the same name.
      await bed.artifacts.putBlob({ name: sha256Hex(artifact) }, linearModel({ width: WIDTH, bias: 0.6 }));
      const f = await failure(Array.fromAsync(bed.client.downloadArtifact({ name: 'tampered', version: modelVersion!.version })));
      assert.equal(f.code, 15);
    });

    it('moves aliases and keeps an append-only history of who changed what, when and why', async () => {
      const set = (alias: string, version: number) =>
        bed.client.setAlias({ name: 'ridge', alias, version, actor: 'alice', reason: `point ${alias} at ${version}` });
      assert.equal((await set('champion', 1)).previousVersion, 0);
      const moved = await set('champion', 2);
      assert.deepEqual([moved.previousVersion, moved.modelVersion?.aliases], [1, ['champion']]);
      await set('challenger', 1);
      assert.deepEqual(
        (await bed.client.getModel({ name: 'ridge', selector: { case: 'alias', value: 'champion' } })).modelVersion?.version,
        2,
      );
      assert.deepEqual((await bed.client.getModel({ name: 'ridge', selector: { case: 'version', value: 1 } })).modelVersion?.aliases, [
        'challenger',
      ]);
      assert.equal((await bed.client.getModel({ name: 'ridge', selector: { case: 'alias', value: 'latest' } })).modelVersion?.version, 2);
      const removed = await bed.client.setAlias({ name: 'ridge', alias: 'challenger', version: 0, actor: 'bob', reason: 'done' });
      assert.deepEqual([removed.previousVersion, removed.modelVersion], [1, undefined]);
      assert.deepEqual(
        (await bed.client.listModels({ alias: 'champion' })).modelVersions.map((v) => [v.name, v.version]),
        [['ridge', 2]],
      );
      assert.equal((await failure(bed.client.getModel({ name: 'ridge', selector: { case: 'alias', value: 'challenger' } }))).code, 5);

      const { entries } = await bed.client.getModelHistory({ name: 'ridge' });
      assert.deepEqual(
        entries.map((e) => [ChangeKind[e.kind], e.version, e.alias, e.relatedVersion, e.actor]),
        [
          ['REGISTERED', 1, '', 0, 'test'],
          ['REGISTERED', 2, '', 0, 'test'],
          ['ALIAS_SET', 1, 'champion', 0, 'alice'],
          ['ALIAS_SET', 2, 'champion', 1, 'alice'],
          ['ALIAS_SET', 1, 'challenger', 0, 'alice'],
          ['ALIAS_REMOVED', 1, 'challenger', 0, 'bob'],
        ],
      );
      assert.ok(entries.every((e, i) => i === 0 || e.sequence > entries[i - 1].sequence));
      assert.equal(entries[3].reason, 'point champion at 2');
      const paged = await bed.client.getModelHistory({ name: 'ridge', version: 1, pageSize: 2 });
      assert.equal(paged.entries.length, 2);
      const rest = await bed.client.getModelHistory({ name: 'ridge', version: 1, pageSize: 2, pageToken: paged.nextPageToken });
      assert.deepEqual(
        [...paged.entries, ...rest.entries].map((e) => ChangeKind[e.kind]),
        ['REGISTERED', 'ALIAS_SET', 'ALIAS_SET', 'ALIAS_REMOVED'],
      );
      assert.equal(rest.nextPageToken, '');
    });

    it('pages ListModels by name, then newest version first, with filters', async () => {
      await register('alpha', linearModel({ width: WIDTH, bias: 1 }));
      await bed.client.transitionStage({ name: 'ridge', version: 1, targetStage: Stage.STAGING, actor: 'test' });
      const all = [];
      let pageToken = '';
      do {
        const page = await bed.client.listModels({ pageSize: 2, pageToken });
        all.push(...page.modelVersions.map((v) => `${v.name}/${v.version}`));
        pageToken = page.nextPageToken;
      } while (pageToken);
      assert.deepEqual(all, ['alpha/1', 'ridge/2', 'ridge/1', 'tampered/1']);
      assert.deepEqual(
        (await bed.client.listModels({ stage: Stage.STAGING })).modelVersions.map((v) => `${v.name}/${v.version}`),
        ['ridge/1'],
      );
      assert.deepEqual(
        (await bed.client.getModel({ name: 'ridge', selector: { case: 'stage', value: Stage.STAGING } })).modelVersion?.version,
        1,
      );
    });

    it('streams changes to watchers, with a snapshot first when asked and heartbeats while idle', async () => {
      const controller = new AbortController();
      const seen: WatchModelsResponse[] = [];
      const watching = (async () => {
        try {
          for await (const m of bed.client.watchModels({ name: 'ridge', includeExisting: true }, { signal: controller.signal }))
            seen.push(m);
        } catch {
          // cancelled below
        }
      })();
      await waitFor(() => seen.some((m) => m.kind.case === 'heartbeat'), 'the watch to start');
      const snapshot = seen
        .filter((m) => m.kind.case === 'change')
        .map((m) => (m.kind.case === 'change' ? m.kind.value.modelVersion?.version : 0));
      assert.deepEqual(snapshot, [2, 1], 'versions with an alias or in Staging');
      await bed.client.setAlias({ name: 'ridge', alias: 'canary', version: 1, actor: 'carol' });
      await register('other', linearModel({ width: WIDTH, bias: 2 }));
      const change = await waitFor(
        () => seen.find((m) => m.kind.case === 'change' && m.kind.value.cause?.kind === ChangeKind.ALIAS_SET),
        'the alias change',
      );
      assert.equal(change.kind.case === 'change' && change.kind.value.modelVersion?.aliases.includes('canary'), true);
      const beats = seen.filter((m) => m.kind.case === 'heartbeat').length;
      await waitFor(() => seen.filter((m) => m.kind.case === 'heartbeat').length >= beats + 2, 'heartbeats while idle', {
        timeoutMs: 3_000,
      });
      assert.ok(!seen.some((m) => m.kind.case === 'change' && m.kind.value.modelVersion?.name === 'other'), 'only the watched name');
      controller.abort();
      await watching;
    });

    it('answers INVALID_ARGUMENT naming the field, and NOT_FOUND naming the resource', async () => {
      const artifact = linearModel({ width: WIDTH });
      const cases: [() => Promise<unknown>, number, string][] = [
        [() => bed.client.getModel({ name: '' }), 3, 'name'],
        [() => bed.client.getModel({ name: 'Bad Name' }), 3, 'name'],
        [() => bed.client.getModel({ name: 'ridge', selector: { case: 'version', value: -1 } }), 3, 'version'],
        [() => bed.client.getModel({ name: 'ridge', selector: { case: 'stage', value: Stage.UNSPECIFIED } }), 3, 'stage'],
        [() => bed.client.getModel({ name: 'nobody' }), 5, 'model'],
        [() => bed.client.getModel({ name: 'ridge', selector: { case: 'version', value: 99 } }), 5, 'model version'],
        [() => bed.client.listModels({ pageSize: -1 }), 3, 'page_size'],
        [() => bed.client.listModels({ pageToken: 'garbage' }), 3, 'page_token'],
        [() => bed.client.transitionStage({ name: 'ridge', version: 1, targetStage: Stage.UNSPECIFIED, actor: 'x' }), 3, 'target_stage'],
        [() => bed.client.transitionStage({ name: 'ridge', version: 1, targetStage: Stage.STAGING }), 3, 'actor'],
        [() => bed.client.transitionStage({ name: 'ridge', version: 0, targetStage: Stage.STAGING, actor: 'x' }), 3, 'version'],
        [() => bed.client.setAlias({ name: 'ridge', alias: 'latest', version: 1, actor: 'x' }), 3, 'alias'],
        [() => bed.client.setAlias({ name: 'ridge', alias: 'Champion', version: 1, actor: 'x' }), 3, 'alias'],
        [() => bed.client.setAlias({ name: 'ridge', alias: 'ok', version: 77, actor: 'x' }), 5, 'model version'],
        [() => bed.client.getModelHistory({ name: 'ridge', pageSize: -5 }), 3, 'page_size'],
        [() => Array.fromAsync(bed.client.downloadArtifact({ name: 'ridge', version: 0 })), 3, 'version'],
        [() => Array.fromAsync(bed.client.watchModels({ name: 'NOPE' })), 3, 'name'],
        [() => register('Bad', artifact), 3, 'registration.name'],
        [() => register('m', artifact, { featureSet: undefined }), 3, 'registration.feature_set'],
        [() => register('m', artifact, { featureSet: { name: 'ohlcv', version: 9 } }), 3, 'registration.feature_set'],
        [() => register('m', artifact, { target: { kind: 0, horizonSessions: 1 } }), 3, 'registration.target.kind'],
        [() => register('m', artifact, { output: { name: 'log_return', dataType: 1, shape: [-1n, 2n] } }), 3, 'registration.output.shape'],
        [() => register('m', artifact, { tags: { '': 'x' } }), 3, 'registration.tags'],
        [() => register('m', artifact, { artifactSha256: 'abc' }), 3, 'registration.artifact_sha256'],
        [() => register('m', new Uint8Array()), 3, 'chunk'],
        [() => bed.client.registerModel([{ content: { case: 'chunk', value: artifact } }]), 3, 'registration'],
        [() => bed.client.registerModel([]), 3, 'registration'],
      ];
      for (const [call, code, field] of cases) {
        const f = await failure(call());
        assert.deepEqual([f.code, f.field], [code, field], f.message);
      }
    });

    it(
      'answers UNAVAILABLE when the feature service cannot confirm the feature set',
      { skip: backend.label === 'postgres' ? 'the PGlite run covers it' : false },
      async () => {
        const lonely = await startRegistry(
          registryConfig({
            NATS_URL: bed.nats.url,
            DATA_DIR: `${bed.dataDir}/lonely`,
            BIND_HOST: '127.0.0.1',
            LOG_LEVEL: 'silent',
            REGISTRY_PORT: '0',
            REGISTRY_METRICS_PORT: '0',
            NEPSE_FEATURE_ADDR: '127.0.0.1:1',
            REGISTRY_FEATURE_TIMEOUT_MS: '2000',
            REGISTRY_ARTIFACT_BUCKET: 'lonely',
          }),
        );
        const client = createGrpcClient(RegistryService, `127.0.0.1:${lonely.port}`);
        try {
          const started = Date.now();
          const f = await failure(client.registerModel(registerRequests(registrationFor('m', WIDTH), linearModel({ width: WIDTH }))));
          assert.equal(f.code, 14, f.message);
          assert.match(f.message, /feature service/);
          assert.ok(Date.now() - started < 5_000);
        } finally {
          client.close();
          await lonely.stop();
        }
      },
    );
  });
}
