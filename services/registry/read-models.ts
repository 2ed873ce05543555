import { create } from '@bufbuild/protobuf';
import {
  GetModelHistoryResponseSchema,
  GetModelResponseSchema,
  ListModelsResponseSchema,
  Stage,
  type GetModelHistoryRequest,
  type GetModelHistoryResponse,
  type GetModelRequest,
  type GetModelResponse,
  type ListModelsRequest,
  type ListModelsResponse,
} from '../../gen/nepse/registry/v1/registry_pb.js';
import { InvalidArgumentError, NotFoundError } from '../../lib/grpc/index.js';
import { decodePageToken, encodePageToken, pageSize } from '../../lib/market/index.js';
import type { RegistryDeps } from './context.js';
import { stageName, toHistoryEntry, toModelVersion } from './model-version.js';
import { registryStore, type StageName, type VersionRow } from './store.js';
import { LATEST_ALIAS, optionalModelName, requireAlias, requireModelName, requireVersion } from './validate.js';

function requireStage(stage: Stage, field: string): StageName {
  const name = stageName(stage);
  if (!name)
    throw new InvalidArgumentError({ field, description: `must be NONE, STAGING, PRODUCTION or ARCHIVED, got ${Stage[stage] ?? stage}` });
  return name;
}

/** NOT_FOUND for a missing version, naming the model itself when it has no version at all. */
async function notFound(deps: RegistryDeps, name: string, what: string): Promise<never> {
  if (!(await registryStore.latestVersion(deps.db, name))) throw new NotFoundError('model', name);
  throw new NotFoundError('model version', `${name}/${what}`);
}

/** GetModel: one version by number, stage (the latest in it) or alias; the latest one by default. */
export async function getModel(deps: RegistryDeps, request: GetModelRequest): Promise<GetModelResponse> {
  const name = requireModelName(request.name);
  const selector = request.selector;
  let row: VersionRow | undefined;
  let what = 'latest';
  switch (selector.case) {
    case 'version':
      what = String(requireVersion(selector.value));
      row = await registryStore.version(deps.db, name, selector.value);
      break;
    case 'stage': {
      const stage = requireStage(selector.value, 'stage');
      what = `stage ${stage}`;
      row = await registryStore.versionInStage(deps.db, name, stage);
      break;
    }
    case 'alias': {
      const alias = requireAlias(selector.value, 'alias', true);
      what = `alias ${alias}`;
      row =
        alias === LATEST_ALIAS
          ? await registryStore.latestVersion(deps.db, name)
          : await registryStore.versionByAlias(deps.db, name, alias);
      break;
    }
    default:
      row = await registryStore.latestVersion(deps.db, name);
  }
  if (!row) return notFound(deps, name, what);
  return create(GetModelResponseSchema, { modelVersion: toModelVersion(row) });
}

/** ListModels: versions by name, then newest first, one page at a time, with optional filters. */
export async function listModels(deps: RegistryDeps, request: ListModelsRequest): Promise<ListModelsResponse> {
  const size = pageSize(request.pageSize);
  const cursor = decodePageToken(request.pageToken);
  let after: { name: string; version: number } | undefined;
  if (cursor !== '') {
    const at = cursor.lastIndexOf('/');
    after = { name: cursor.slice(0, at), version: Number(cursor.slice(at + 1)) };
    if (at < 1 || !Number.isInteger(after.version))
      throw new InvalidArgumentError({ field: 'page_token', description: 'not a page token returned by this service' });
  }
  const filter = {
    name: optionalModelName(request.name),
    stage: request.stage === Stage.UNSPECIFIED ? undefined : requireStage(request.stage, 'stage'),
    alias: request.alias === '' ? undefined : requireAlias(request.alias),
  };
  const rows = await registryStore.listVersions(deps.db, filter, after, size + 1);
  const page = rows.slice(0, size);
  const last = page[page.length - 1];
  return create(ListModelsResponseSchema, {
    modelVersions: page.map(toModelVersion),
    nextPageToken: rows.length > size ? encodePageToken(`${last.name}/${last.version}`) : '',
  });
}

/** GetModelHistory: a model's stage and alias changes, oldest first, one page at a time. */
export async function getModelHistory(deps: RegistryDeps, request: GetModelHistoryRequest): Promise<GetModelHistoryResponse> {
  const name = requireModelName(request.name);
  const version = requireVersion(request.version, 'version', true);
  const size = pageSize(request.pageSize);
  const cursor = decodePageToken(request.pageToken);
  const after = cursor === '' ? 0 : Number(cursor);
  if (!Number.isInteger(after) || after < 0)
    throw new InvalidArgumentError({ field: 'page_token', description: 'not a page token returned by this service' });
  const rows = await registryStore.history(deps.db, name, version, after, size + 1);
  if (rows.length === 0 && after === 0) {
    if (!(await registryStore.latestVersion(deps.db, name))) throw new NotFoundError('model', name);
    if (version > 0 && !(await registryStore.version(deps.db, name, version)))
      throw new NotFoundError('model version', `${name}/${version}`);
  }
  const page = rows.slice(0, size);
  return create(GetModelHistoryResponseSchema, {
    entries: page.map(toHistoryEntry),
    nextPageToken: rows.length > size ? encodePageToken(String(page[page.length - 1].sequence)) : '',
  });
}
