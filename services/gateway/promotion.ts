/**
 * TransitionStage and SetAlias through the gateway: the actor the registry records in its history
 * is the authenticated identity, whatever the request says, and taking the Production version out
 * of Production (a withdrawal) needs the admin role where promoting needs operator.
 */
import { Code, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { SetAliasRequest, TransitionStageRequest } from '../../gen/nepse/registry/v1/registry_pb.js';
import { RegistryService, Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { Role } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import { refusal, toConnectError } from './errors.js';
import { forwardOptions, type ForwardDefaults } from './forward.js';
import { actorOf, identityOf } from './identity.js';
import { allows, roleName } from './roles.js';
import type { Upstreams } from './upstreams.js';

/** The registry methods whose forwarding sets the actor. */
export function promotionOverrides(upstreams: Upstreams, defaults: ForwardDefaults): Partial<ServiceImpl<typeof RegistryService>> {
  const registry = upstreams.registry;
  const call = async <T>(run: () => Promise<T>) => {
    try {
      return await run();
    } catch (error) {
      throw toConnectError(error);
    }
  };
  return {
    async transitionStage(request: TransitionStageRequest, ctx: HandlerContext) {
      const identity = identityOf(ctx);
      if (request.targetStage !== Stage.PRODUCTION && !allows(identity.role, Role.ADMIN) && request.name && request.version > 0) {
        // Only the registry knows whether this version is in Production now; ask it.
        const current = await call(() =>
          registry.getModel({ name: request.name, selector: { case: 'version', value: request.version } }, forwardOptions(ctx, defaults)),
        );
        if (current.modelVersion?.stage === Stage.PRODUCTION) {
          throw refusal(
            Code.PermissionDenied,
            'ROLE_REQUIRED',
            `taking ${request.name} version ${request.version} out of Production needs the admin role; ${identity.principal} has ${roleName(identity.role)}`,
            {
              required_role: 'admin',
              role: roleName(identity.role),
            },
          );
        }
      }
      return call(() =>
        registry.transitionStage({ ...request, actor: actorOf(identity, roleName(identity.role)) }, forwardOptions(ctx, defaults)),
      );
    },
    async setAlias(request: SetAliasRequest, ctx: HandlerContext) {
      const identity = identityOf(ctx);
      return call(() =>
        registry.setAlias({ ...request, actor: actorOf(identity, roleName(identity.role)) }, forwardOptions(ctx, defaults)),
      );
    },
  };
}
