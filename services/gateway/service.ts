/**
 * The gateway: the mesh's public face on one port. Connect (JSON and binary), gRPC-Web and gRPC
 * over HTTP/1.1 and h2c (listener.ts), GatewayService and the mesh's public RPCs under their own
 * names (forward.ts), grpc.health.v1 and reflection, every call admitted by credentials, role and
 * rate limit (authenticate.ts), and the dashboard's files at `/`. Metrics and health on its own port.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { cors as connectCors, createConnectRouter, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import {
  GatewayService,
  Role,
  type GetDashboardRequest,
  type GetSymbolOverviewRequest,
  type UploadCsvRequest,
} from '../../gen/nepse/gateway/v1/gateway_pb.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { createReadiness } from '../../lib/runtime/index.js';
import { ROOT } from '../../lib/runtime/service-process.js';
import { collectProcessMetrics, createLogger, grpcServerObserver, startTelemetryServer, type Logger } from '../../lib/telemetry/index.js';
import { listApiKeys, whoAmI } from './account.js';
import { createKeyStore, hashKey, newKey, type ApiKeyEntry } from './api-keys.js';
import { admit, authInterceptor } from './authenticate.js';
import { UPSTREAMS, type GatewayConfig } from './config.js';
import { getDashboard, getSymbolOverview } from './dashboard.js';
import { forwardingService, type ForwardDefaults } from './forward.js';
import { grpcPassthrough, passthroughRoutes } from './grpc-passthrough.js';
import { addHealthAndReflection } from './health-reflection.js';
import { createJwtVerifier } from './jwt.js';
import { createLimiter, roleLimits } from './limits.js';
import { listen, type Handler } from './listener.js';
import { createMeshStatus } from './mesh-status.js';
import { observeInterceptor } from './observe.js';
import { promotionOverrides } from './promotion.js';
import { keysCheck, upstreamsCheck } from './readiness-checks.js';
import { METHOD_ROLES } from './roles.js';
import { staticFiles } from './static-files.js';
import { UPSTREAM_SERVICES, createUpstreams } from './upstreams.js';
import { uploadCsv } from './upload-csv.js';

/** A running gateway. */
export interface RunningGateway {
  readonly port: number;
  readonly metricsPort: number;
  /** The development key, when GATEWAY_DEV_KEY_FILE is set. */
  readonly devKey?: string;
  stop(graceMs?: number): Promise<void>;
}

/** Id of the development key. */
const DEV_KEY_ID = 'dev';

/** The development key: the one in `file` when it is still one, else a new one written there (mode 600). */
async function devKey(file: string): Promise<string> {
  const existing = await readFile(file, 'utf8').then(
    (t) => t.trim(),
    () => '',
  );
  if (existing.startsWith(`nepse_${DEV_KEY_ID}_`)) return existing;
  const key = newKey(DEV_KEY_ID);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** Exposed method names of a service, from the policy in roles.ts. */
function exposedMethods(typeName: string): Set<string> {
  return new Set(
    Object.keys(METHOD_ROLES)
      .filter((path) => path.startsWith(`${typeName}/`))
      .map((path) => path.slice(typeName.length + 1)),
  );
}

/** CORS headers for an allowed origin; preflights answered here. */
function withCors(origins: ReadonlySet<string>, next: Handler): Handler {
  const allowHeaders = [...connectCors.allowedHeaders, 'Authorization', 'X-Api-Key', 'Traceparent', 'Tracestate'].join(', ');
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin === 'string' && origins.has(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
      res.setHeader('access-control-expose-headers', connectCors.exposedHeaders.join(', '));
      if (req.method === 'OPTIONS') {
        res.setHeader('access-control-allow-methods', connectCors.allowedMethods.join(', '));
        res.setHeader('access-control-allow-headers', allowHeaders);
        res.setHeader('access-control-max-age', '7200');
        (res as import('node:http').ServerResponse).writeHead(204);
        return void res.end();
      }
    } else if (req.method === 'OPTIONS' && origin) {
      (res as import('node:http').ServerResponse).writeHead(403, { 'content-type': 'text/plain' });
      return void res.end('origin not allowed\n');
    }
    next(req, res);
  };
}

/** Starts the gateway. */
export async function startGateway(
  config: GatewayConfig,
  logger: Logger = createLogger('gateway', config.LOG_LEVEL),
): Promise<RunningGateway> {
  collectProcessMetrics();
  const defaults: ForwardDefaults = { defaultTimeoutMs: config.GATEWAY_DEFAULT_TIMEOUT_MS };
  const dev = config.GATEWAY_DEV_KEY_FILE ? await devKey(config.GATEWAY_DEV_KEY_FILE) : undefined;
  const devEntry: ApiKeyEntry[] = dev
    ? [
        {
          id: DEV_KEY_ID,
          principal: 'developer',
          role: Role.OPERATOR,
          sha256: Buffer.from(hashKey(dev), 'hex'),
          revoked: false,
          source: 'dev',
          limits: {},
        },
      ]
    : [];
  const keys = await createKeyStore({
    file: config.GATEWAY_API_KEYS_FILE,
    inline: config.GATEWAY_API_KEYS,
    extra: devEntry,
    reloadMs: config.GATEWAY_KEYS_RELOAD_MS,
    onReloadError: (error) => logger.error({ err: error }, 'keys file changed but cannot be used; the previous keys stay in force'),
  });
  const jwt = createJwtVerifier({
    secret: config.GATEWAY_JWT_SECRET,
    jwksFile: config.GATEWAY_JWKS_FILE,
    issuer: config.GATEWAY_JWT_ISSUER,
    audience: config.GATEWAY_JWT_AUDIENCE,
    roleClaim: config.GATEWAY_JWT_ROLE_CLAIM,
  });
  const limiter = createLimiter(roleLimits(config.GATEWAY_RATE_LIMITS));
  const upstreams = createUpstreams(config);
  let port = 0;
  const status = createMeshStatus(upstreams.addresses, config.GATEWAY_STATUS_TIMEOUT_MS, () => `${config.BIND_HOST}:${port}`);
  const readiness = createReadiness([keysCheck(keys), upstreamsCheck(upstreams.raw)], {
    onChange(report) {
      if (report.status === 'ready') logger.info({ checks: report.checks }, 'ready again');
      else logger.warn({ reason: report.reason, checks: report.checks }, `not ready: ${report.reason}`);
    },
  });
  const serving = () => readiness.current().status === 'ready';
  const shutdown = new AbortController();

  const observer = grpcServerObserver(logger);
  const auth = { keys, jwt, limiter };
  const overridesOf = (name: (typeof UPSTREAMS)[number]) =>
    UPSTREAM_SERVICES[name] === RegistryService ? promotionOverrides(upstreams, defaults) : {};
  const publicServices = [GatewayService.typeName, ...UPSTREAMS.map((name) => UPSTREAM_SERVICES[name].typeName)].filter(
    (name) => exposedMethods(name).size > 0,
  );
  const routes = (router: ConnectRouter) => {
    router.service(GatewayService, {
      whoAmI: (_request, ctx) => whoAmI(limiter, ctx),
      getMeshStatus: () => status.read(),
      getDashboard: (request: GetDashboardRequest, ctx: HandlerContext) => getDashboard(upstreams, request, ctx, defaults),
      getSymbolOverview: (request: GetSymbolOverviewRequest, ctx: HandlerContext) => getSymbolOverview(upstreams, request, ctx, defaults),
      uploadCsv: (request: UploadCsvRequest, ctx: HandlerContext) =>
        uploadCsv(upstreams, request, ctx, { ...defaults, maxBytes: config.GATEWAY_UPLOAD_MAX_BYTES }),
      listApiKeys: () => listApiKeys(keys),
    });
    for (const name of UPSTREAMS) {
      const service = UPSTREAM_SERVICES[name];
      const methods = exposedMethods(service.typeName);
      if (methods.size === 0) continue;
      router.service(service, forwardingService(service, upstreams[name] as never, methods, defaults, overridesOf(name) as never) as never);
    }
    addHealthAndReflection(router, { services: publicServices, isServing: serving });
  };
  const webDir = isAbsolute(config.GATEWAY_WEB_DIR) ? config.GATEWAY_WEB_DIR : join(ROOT, config.GATEWAY_WEB_DIR);
  const rpc = connectNodeAdapter({
    routes,
    fallback: staticFiles(webDir) as never,
    interceptors: [observeInterceptor(observer), authInterceptor(auth)],
    // UploadCsv carries a whole file; every other message is far smaller.
    readMaxBytes: config.GATEWAY_UPLOAD_MAX_BYTES + 64 * 1024,
    shutdownSignal: shutdown.signal,
  });
  const origins = new Set(
    config.GATEWAY_CORS_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  );
  // gRPC callers of the methods forwarded unchanged skip connect-node: their bytes go upstream as they are.
  const passthrough = grpcPassthrough({
    routes: passthroughRoutes(
      UPSTREAMS.map((name) => ({
        methods: UPSTREAM_SERVICES[name].methods,
        exposed: exposedMethods(UPSTREAM_SERVICES[name].typeName),
        overridden: new Set(Object.keys(overridesOf(name))),
        upstream: upstreams.raw[name],
      })),
    ),
    admit: (path, credentials) => admit(path, credentials, auth),
    observer,
    defaultTimeoutMs: config.GATEWAY_DEFAULT_TIMEOUT_MS,
    maxBytes: config.GATEWAY_UPLOAD_MAX_BYTES + 64 * 1024,
  });
  const listener = await listen(withCors(origins, rpc as Handler), config.GATEWAY_PORT, config.BIND_HOST, passthrough);
  port = listener.port;
  const telemetry = await startTelemetryServer({
    port: config.GATEWAY_METRICS_PORT ?? (config.GATEWAY_PORT === 0 ? 0 : port + 1000),
    host: config.BIND_HOST,
    isReady: async () => {
      const report = await readiness.evaluate();
      return { ready: report.status === 'ready', body: report };
    },
  });
  readiness.setStarted(true);
  await readiness.evaluate();
  // The checks run about once a second, so grpc.health.v1 follows them between /readyz probes.
  const timer = setInterval(() => void readiness.evaluate(), 1_000);
  timer.unref();
  logger.info(
    {
      port,
      metricsPort: telemetry.port,
      web: webDir,
      upstreams: upstreams.addresses,
      devKey: dev ? config.GATEWAY_DEV_KEY_FILE : undefined,
    },
    'gateway serving',
  );
  return {
    port,
    metricsPort: telemetry.port,
    devKey: dev,
    async stop(graceMs = 5_000) {
      clearInterval(timer);
      readiness.setStarted(false);
      await readiness.evaluate();
      // Streams end now (their callers see UNAVAILABLE); unary calls in flight may finish.
      shutdown.abort();
      await listener.close(graceMs);
      await telemetry.close();
      status.close();
      upstreams.close();
    },
  };
}
