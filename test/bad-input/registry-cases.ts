/** Bad input to RegistryService: names, versions, stages and moves the stage machine refuses, pages, registrations and artifact streams. */
import { Stage, type RegisterModelRequest } from '../../gen/nepse/registry/v1/registry_pb.js';
import { linearModel, registrationFor, sha256Hex, WIDTH } from '../../testing/index.js';
import { drain, type BadInputBed } from './bed.js';
import { Code, GARBAGE_TOKEN, type BadCase } from './case.js';
import { notProtobuf, rawUnary, silentAfter } from './wire.js';

const transition = (bed: BadInputBed, change: { name?: string; version?: number; targetStage?: Stage; actor?: string }) =>
  bed.direct.registry.transitionStage({
    name: bed.model.name,
    version: bed.model.production,
    targetStage: Stage.PRODUCTION,
    actor: 'bad-input',
    reason: 'bad-input case',
    ...change,
  });

/** A registration stream of a real model under a fresh name, spoilt by `spoil`. */
function registration(spoil: (messages: RegisterModelRequest[]) => unknown[]): unknown[] {
  const bytes = linearModel({ width: WIDTH, weights: new Array(WIDTH).fill(0.001), bias: 0 });
  const meta = {
    ...registrationFor('bad-input-model', WIDTH),
    artifactSha256: sha256Hex(bytes),
    artifactSizeBytes: BigInt(bytes.byteLength),
  };
  const messages = [
    { content: { case: 'registration', value: meta } },
    { content: { case: 'chunk', value: bytes } },
  ] as unknown as RegisterModelRequest[];
  return spoil(messages);
}
const register = (bed: BadInputBed, messages: unknown[]) => bed.direct.registry.registerModel(messages as RegisterModelRequest[]);
const withMeta = (change: Record<string, unknown>) => (m: RegisterModelRequest[]) => [
  { content: { case: 'registration', value: { ...(m[0].content.value as object), ...change } } },
  m[1],
];

export const REGISTRY_CASES: BadCase[] = [
  {
    name: 'RegistryService.GetModel: empty name',
    call: (bed) => bed.direct.registry.getModel({ name: '' }),
    code: Code.INVALID_ARGUMENT,
    field: 'name',
  },
  {
    name: 'RegistryService.GetModel: SQL-like name',
    call: (bed) => bed.direct.registry.getModel({ name: "x' OR '1'='1" }),
    code: Code.INVALID_ARGUMENT,
    field: 'name',
  },
  {
    name: 'RegistryService.GetModel: overlong name',
    call: (bed) => bed.direct.registry.getModel({ name: 'm'.repeat(500) }),
    code: Code.INVALID_ARGUMENT,
    field: 'name',
  },
  {
    name: 'RegistryService.GetModel: unknown name',
    call: (bed) => bed.direct.registry.getModel({ name: 'no-such-model' }),
    code: Code.NOT_FOUND,
    field: 'model',
  },
  {
    name: 'RegistryService.GetModel: version -1',
    call: (bed) => bed.direct.registry.getModel({ name: bed.model.name, selector: { case: 'version', value: -1 } }),
    code: Code.INVALID_ARGUMENT,
    field: 'version',
  },
  {
    name: 'RegistryService.GetModel: unknown version',
    call: (bed) => bed.direct.registry.getModel({ name: bed.model.name, selector: { case: 'version', value: 999 } }),
    code: Code.NOT_FOUND,
    field: 'model version',
  },
  {
    name: 'RegistryService.GetModel: unknown stage value',
    call: (bed) => bed.direct.registry.getModel({ name: bed.model.name, selector: { case: 'stage', value: 77 as Stage } }),
    code: Code.INVALID_ARGUMENT,
    field: 'stage',
  },
  {
    name: 'RegistryService.GetModel: unknown alias',
    call: (bed) => bed.direct.registry.getModel({ name: bed.model.name, selector: { case: 'alias', value: 'nowhere' } }),
    code: Code.NOT_FOUND,
    field: 'model version',
  },
  {
    name: 'RegistryService.ListModels: negative page size',
    call: (bed) => bed.direct.registry.listModels({ pageSize: -1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_size',
  },
  {
    name: 'RegistryService.ListModels: garbage page token',
    call: (bed) => bed.direct.registry.listModels({ pageToken: GARBAGE_TOKEN }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_token',
  },
  {
    name: 'RegistryService.ListModels: bad name filter',
    call: (bed) => bed.direct.registry.listModels({ name: 'Not A Name' }),
    code: Code.INVALID_ARGUMENT,
    field: 'name',
  },
  {
    name: 'RegistryService.TransitionStage: archived straight to Production',
    call: (bed) => transition(bed, { version: bed.model.archived }),
    code: Code.FAILED_PRECONDITION,
    field: 'STAGE_TRANSITION',
  },
  {
    name: 'RegistryService.TransitionStage: no target stage',
    call: (bed) => transition(bed, { targetStage: Stage.UNSPECIFIED }),
    code: Code.INVALID_ARGUMENT,
    field: 'target_stage',
  },
  {
    name: 'RegistryService.TransitionStage: unknown stage value',
    call: (bed) => transition(bed, { targetStage: 9 as Stage }),
    code: Code.INVALID_ARGUMENT,
    field: 'target_stage',
  },
  {
    name: 'RegistryService.TransitionStage: version 0',
    call: (bed) => transition(bed, { version: 0 }),
    code: Code.INVALID_ARGUMENT,
    field: 'version',
  },
  {
    name: 'RegistryService.TransitionStage: unknown version',
    call: (bed) => transition(bed, { version: 999 }),
    code: Code.NOT_FOUND,
    field: 'model version',
  },
  {
    name: 'RegistryService.TransitionStage: unknown model',
    call: (bed) => transition(bed, { name: 'no-such-model', version: 1 }),
    code: Code.NOT_FOUND,
    field: 'model',
  },
  {
    name: 'RegistryService.TransitionStage: no actor',
    call: (bed) => transition(bed, { actor: '' }),
    code: Code.INVALID_ARGUMENT,
    field: 'actor',
  },
  {
    name: 'RegistryService.SetAlias: alias with spaces',
    call: (bed) => bed.direct.registry.setAlias({ name: bed.model.name, alias: 'BAD ALIAS', version: 1, actor: 'bad-input' }),
    code: Code.INVALID_ARGUMENT,
    field: 'alias',
  },
  {
    name: 'RegistryService.SetAlias: reserved alias "latest"',
    call: (bed) => bed.direct.registry.setAlias({ name: bed.model.name, alias: 'latest', version: 1, actor: 'bad-input' }),
    code: Code.INVALID_ARGUMENT,
    field: 'alias',
  },
  {
    name: 'RegistryService.SetAlias: unknown version',
    call: (bed) => bed.direct.registry.setAlias({ name: bed.model.name, alias: 'champion', version: 999, actor: 'bad-input' }),
    code: Code.NOT_FOUND,
    field: 'model version',
  },
  {
    name: 'RegistryService.SetAlias: negative version',
    call: (bed) => bed.direct.registry.setAlias({ name: bed.model.name, alias: 'champion', version: -3, actor: 'bad-input' }),
    code: Code.INVALID_ARGUMENT,
    field: 'version',
  },
  {
    name: 'RegistryService.GetModelHistory: negative page size',
    call: (bed) => bed.direct.registry.getModelHistory({ name: bed.model.name, pageSize: -1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_size',
  },
  {
    name: 'RegistryService.GetModelHistory: garbage page token',
    call: (bed) => bed.direct.registry.getModelHistory({ name: bed.model.name, pageToken: GARBAGE_TOKEN }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_token',
  },
  {
    name: 'RegistryService.GetModelHistory: unknown model',
    call: (bed) => bed.direct.registry.getModelHistory({ name: 'no-such-model' }),
    code: Code.NOT_FOUND,
    field: 'model',
  },
  {
    name: 'RegistryService.DownloadArtifact: unknown version',
    call: (bed) => drain(bed.direct.registry.downloadArtifact({ name: bed.model.name, version: 999 })),
    code: Code.NOT_FOUND,
    field: 'model version',
  },
  {
    name: 'RegistryService.DownloadArtifact: version -1',
    call: (bed) => drain(bed.direct.registry.downloadArtifact({ name: bed.model.name, version: -1 })),
    code: Code.INVALID_ARGUMENT,
    field: 'version',
  },
  {
    name: 'RegistryService.DownloadArtifact: empty name',
    call: (bed) => drain(bed.direct.registry.downloadArtifact({ name: '', version: 1 })),
    code: Code.INVALID_ARGUMENT,
    field: 'name',
  },
  {
    name: 'RegistryService.WatchModels: bad name',
    call: (bed) => drain(bed.direct.registry.watchModels({ name: 'x y' })),
    code: Code.INVALID_ARGUMENT,
    field: 'name',
  },
  {
    name: 'RegistryService.RegisterModel: empty stream',
    call: (bed) => register(bed, []),
    code: Code.INVALID_ARGUMENT,
    field: 'registration',
  },
  {
    name: 'RegistryService.RegisterModel: a chunk before the registration',
    call: (bed) =>
      register(
        bed,
        registration((m) => [m[1], m[0]]),
      ),
    code: Code.INVALID_ARGUMENT,
    field: 'registration',
  },
  {
    name: 'RegistryService.RegisterModel: two registrations',
    call: (bed) =>
      register(
        bed,
        registration((m) => [m[0], m[0], m[1]]),
      ),
    code: Code.INVALID_ARGUMENT,
    field: 'registration',
  },
  {
    name: 'RegistryService.RegisterModel: no artifact',
    call: (bed) =>
      register(
        bed,
        registration((m) => [m[0]]),
      ),
    code: Code.INVALID_ARGUMENT,
    field: 'chunk',
  },
  {
    name: 'RegistryService.RegisterModel: checksum that does not match',
    call: (bed) => register(bed, registration(withMeta({ artifactSha256: '0'.repeat(64) }))),
    code: Code.INVALID_ARGUMENT,
    field: 'registration.artifact_sha256',
  },
  {
    name: 'RegistryService.RegisterModel: size that does not match',
    call: (bed) => register(bed, registration(withMeta({ artifactSizeBytes: 5n }))),
    code: Code.INVALID_ARGUMENT,
    field: 'registration.artifact_size_bytes',
  },
  {
    name: 'RegistryService.RegisterModel: bad model name',
    call: (bed) => register(bed, registration(withMeta({ name: 'Bad Name' }))),
    code: Code.INVALID_ARGUMENT,
    field: 'registration.name',
  },
  {
    name: 'RegistryService.RegisterModel: unknown feature set',
    call: (bed) => register(bed, registration(withMeta({ featureSet: { name: 'no_such_set', version: 1 } }))),
    code: Code.INVALID_ARGUMENT,
    field: 'registration.feature_set',
  },
  {
    name: 'RegistryService.RegisterModel: random bytes as the artifact',
    call: (bed) =>
      register(
        bed,
        registration((m) => {
          const junk = notProtobuf(2048, 5);
          return [
            {
              content: {
                case: 'registration',
                value: { ...(m[0].content.value as object), artifactSha256: sha256Hex(junk), artifactSizeBytes: BigInt(junk.byteLength) },
              },
            },
            { content: { case: 'chunk', value: junk } },
          ];
        }),
      ),
    code: Code.INVALID_ARGUMENT,
    field: 'chunk',
  },
  {
    name: 'RegistryService.RegisterModel: a stream that never ends is cut at its deadline',
    call: async (bed) => {
      const stop = new AbortController();
      try {
        return await bed.direct.registry.registerModel(silentAfter(registration((m) => [m[0]]) as RegisterModelRequest[], stop.signal), {
          timeoutMs: 1_500,
        });
      } finally {
        stop.abort();
      }
    },
    code: Code.DEADLINE_EXCEEDED,
    withinMs: 6_000,
  },
  {
    name: 'RegistryService.ListModels: random bytes as the request',
    call: (bed) => rawUnary(bed.address.registry, '/nepse.registry.v1.RegistryService/ListModels', notProtobuf(40, 9)),
    code: Code.INVALID_ARGUMENT,
    field: 'request',
  },
];
