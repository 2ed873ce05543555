/** The gateway for the test network: its real start function. */
import { GatewayService } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import { gatewayConfig } from '../../services/gateway/config.js';
import { startGateway, type RunningGateway } from '../../services/gateway/service.js';
import type { ServiceDriver } from './driver.js';

/** Starts the gateway from environment variables; stopping it gives open calls 1 s, not 5 s. */
export const gateway = {
  name: 'gateway',
  definition: GatewayService,
  phase: 2,
  env: { GATEWAY_KEYS_RELOAD_MS: '0' },
  async start(env) {
    const running = await startGateway(gatewayConfig(env));
    return {
      port: running.port,
      metricsPort: running.metricsPort,
      devKey: running.devKey,
      stop: (graceMs = 1_000) => running.stop(graceMs),
    };
  },
} satisfies ServiceDriver<RunningGateway>;
