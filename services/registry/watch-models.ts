import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  ModelChangeSchema,
  WatchModelsResponseSchema,
  type ModelChange,
  type WatchModelsRequest,
  type WatchModelsResponse,
} from '../../gen/nepse/registry/v1/registry_pb.js';
import { UnavailableError, type CallContext } from '../../lib/grpc/index.js';
import type { RegistryDeps } from './context.js';
import { toModelVersion } from './model-version.js';
import { registryStore } from './store.js';
import { optionalModelName } from './validate.js';

const heartbeat = () => create(WatchModelsResponseSchema, { kind: { case: 'heartbeat', value: { sentAt: timestampNow() } } });
const changeMessage = (value: ModelChange) => create(WatchModelsResponseSchema, { kind: { case: 'change', value } });

/**
 * WatchModels: every change this registry commits, as it happens, optionally after a snapshot of
 * the versions in Staging or Production or holding an alias. The subscription starts before the
 * snapshot is read, so nothing falls between them (a version may then come twice; each message
 * is the version's full state, so the later one wins). A heartbeat goes out first, once the
 * subscription is live, and whenever nothing else was sent for the keep-alive interval. The
 * stream ends with UNAVAILABLE when the registry shuts down or the watcher falls too far behind:
 * reconnect with include_existing to resynchronise.
 */
export async function* watchModels(
  deps: RegistryDeps,
  request: WatchModelsRequest,
  context: CallContext,
): AsyncIterable<WatchModelsResponse> {
  const name = optionalModelName(request.name);
  const subscription = deps.changes.subscribe(name);
  try {
    if (request.includeExisting) {
      for (const row of await registryStore.watchedVersions(deps.db, name))
        yield changeMessage(create(ModelChangeSchema, { modelVersion: toModelVersion(row) }));
    }
    yield heartbeat();
    while (!context.signal.aborted) {
      const next = await subscription.next(deps.heartbeatMs, context.signal);
      if ('change' in next) yield changeMessage(next.change);
      else if ('idle' in next) {
        if (!context.signal.aborted) yield heartbeat();
      } else if (next.ended === 'overflow') {
        throw new UnavailableError('this watcher fell too far behind; reconnect with include_existing to resynchronise');
      } else {
        throw new UnavailableError('the registry is shutting down; reconnect');
      }
    }
  } finally {
    subscription.close();
  }
}
