import { create } from '@bufbuild/protobuf';
import { SetAliasResponseSchema, type SetAliasRequest, type SetAliasResponse } from '../../gen/nepse/registry/v1/registry_pb.js';
import { NotFoundError } from '../../lib/grpc/index.js';
import { commitChange, type RegistryDeps } from './context.js';
import { toModelVersion } from './model-version.js';
import { registryStore, type VersionRow } from './store.js';
import { boundedText, MAX_REASON_CHARS, requireActor, requireAlias, requireModelName, requireVersion } from './validate.js';

/**
 * SetAlias: points an alias at a version (version 0 removes it). Moving an alias is one history
 * entry, ALIAS_SET on the new version with the old one as related_version; watchers hear about
 * both versions, since both changed. Setting an alias to where it already points changes nothing.
 */
export async function setAlias(deps: RegistryDeps, request: SetAliasRequest): Promise<SetAliasResponse> {
  const name = requireModelName(request.name);
  const alias = requireAlias(request.alias);
  const version = requireVersion(request.version, 'version', true);
  const actor = requireActor(request.actor);
  const reason = boundedText(request.reason.trim(), 'reason', MAX_REASON_CHARS);

  const outcome = await commitChange(deps, async (tx, history): Promise<{ row?: VersionRow; previous: number }> => {
    if (!(await registryStore.lockModel(tx, name))) throw new NotFoundError('model', name);
    const previous = (await registryStore.aliasTarget(tx, name, alias)) ?? 0;
    if (version === 0) {
      if (previous === 0) return { previous };
      await registryStore.removeAlias(tx, name, alias);
      await history.append({ name, version: previous, kind: 'alias_removed', alias, actor, reason });
      return { previous };
    }
    const row = await registryStore.version(tx, name, version);
    if (!row) throw new NotFoundError('model version', `${name}/${version}`);
    if (previous === version) return { row, previous };
    await registryStore.setAlias(tx, name, alias, version);
    await history.append({ name, version, kind: 'alias_set', alias, relatedVersion: previous, actor, reason }, previous ? [previous] : []);
    return { row: await registryStore.version(tx, name, version), previous };
  });
  return create(SetAliasResponseSchema, { modelVersion: outcome.row && toModelVersion(outcome.row), previousVersion: outcome.previous });
}
