import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ModelAliasSetSchema } from '../../gen/nepse/events/v1/events_pb.js';
import { SetAliasResponseSchema, type SetAliasRequest, type SetAliasResponse } from '../../gen/nepse/registry/v1/registry_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { NO_KEY } from '../../lib/events/index.js';
import { NotFoundError } from '../../lib/grpc/index.js';
import type { Queryable } from '../../lib/postgres/index.js';
import { commitChange, type RegistryDeps } from './context.js';
import { toModelVersion } from './model-version.js';
import { enqueueEvent } from './outbox.js';
import { registryStore, type HistoryRow, type VersionRow } from './store.js';
import { boundedText, MAX_REASON_CHARS, requireActor, requireAlias, requireModelName, requireVersion } from './validate.js';

/**
 * Records ModelAliasSet in the change's transaction, so prediction instances follow the alias
 * (load, smoke-test, swap) exactly when the change commits. The history entry's sequence makes
 * the id: a re-sent outbox row is dropped by JetStream as a duplicate.
 */
async function announce(tx: Queryable, entry: HistoryRow, version: number, previous: number, sha256: string): Promise<void> {
  const changeId = `${entry.name}:${entry.alias}:${entry.sequence}`;
  const event = create(ModelAliasSetSchema, {
    changeId,
    name: entry.name,
    alias: entry.alias,
    version,
    previousVersion: previous,
    artifactSha256: sha256,
    actor: entry.actor,
    occurredAt: timestampFromDate(entry.changed_at),
  });
  await enqueueEvent(tx, MeshEvents.modelAliasSet, NO_KEY, event, `models.alias_set:${changeId}`);
}

/**
 * SetAlias: points an alias at a version (version 0 removes it). Moving an alias is one history
 * entry, ALIAS_SET on the new version with the old one as related_version; watchers hear about
 * both versions, since both changed, and ModelAliasSet goes out through the outbox. Setting an
 * alias to where it already points changes nothing.
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
      const entry = await history.append({ name, version: previous, kind: 'alias_removed', alias, actor, reason });
      await announce(tx, entry, 0, previous, '');
      return { previous };
    }
    const row = await registryStore.version(tx, name, version);
    if (!row) throw new NotFoundError('model version', `${name}/${version}`);
    if (previous === version) return { row, previous };
    await registryStore.setAlias(tx, name, alias, version);
    const entry = await history.append(
      { name, version, kind: 'alias_set', alias, relatedVersion: previous, actor, reason },
      previous ? [previous] : [],
    );
    await announce(tx, entry, version, previous, row.artifact_sha256);
    return { row: await registryStore.version(tx, name, version), previous };
  });
  return create(SetAliasResponseSchema, { modelVersion: outcome.row && toModelVersion(outcome.row), previousVersion: outcome.previous });
}
