import { callersOf, principal, type CallGraph, type ContractMethod, type MeshService } from '../call-graph.js';
import { usesNats, type K8sObject } from './k8s.js';
import { STORE_PORTS } from './network-policies.js';

/** Mesh retries after the first attempt on a read-only unary method: 3 attempts in all. */
export const MESH_RETRIES = 2;
/** What Envoy's backoff between those attempts may add, in ms (25 ms base, jittered, doubling). */
export const RETRY_BACKOFF_BUDGET_MS = 100;
/** Gives up on an attempt only for failures where the call never ran or the pod went away. */
export const RETRY_ON = 'connect-failure,refused-stream,reset,unavailable';
/** The ingress gateway's principal (Istio's default install). */
export const INGRESS_PRINCIPAL = 'cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account';
/** Public host name of the gateway (change it in an overlay of mesh/istio). */
export const PUBLIC_HOST = 'api.nepse.example';
/** Share of prediction traffic the canary subset (pods labelled version v2) gets, in percent. */
export const CANARY_WEIGHT = 10;

const fqdn = (graph: CallGraph, name: string) => `${name}.${graph.namespace}.svc.cluster.local`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')}s`;
const routeName = (path: string) =>
  path
    .split('/')[1]!
    .replace(/([a-z])([A-Z])/g, '$1-$2')
    .toLowerCase();

/** The route of one method for its callers: its timeout, and retries only when it has no side effects and is unary. */
export interface RoutePlan {
  path: string;
  /** The one caller this route is for (matched by its pods' labels), when callers need different budgets. */
  caller?: string;
  /** Route timeout in ms: the caller's deadline (its own grpc-timeout cuts shorter); 0 for server and bidi streams. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  retries: number;
  /** Per-attempt timeout in ms when retrying: every attempt and the backoff fit inside the caller's deadline. */
  perTryTimeoutMs?: number;
}

/** Plans the route of a method from a caller's deadline and the method's contract. */
export function planRoute(path: string, deadlineMs: number, method: ContractMethod): RoutePlan {
  const streaming = method.kind !== 'unary';
  const timeoutMs = streaming && method.kind !== 'client_streaming' ? 0 : deadlineMs;
  if (streaming || !method.noSideEffects || deadlineMs === 0) return { path, timeoutMs, retries: 0 };
  const perTryTimeoutMs = Math.floor((deadlineMs - RETRY_BACKOFF_BUDGET_MS) / (MESH_RETRIES + 1));
  // Below 100 ms per attempt a retry is more likely to be cut off than to help.
  if (perTryTimeoutMs < 100) return { path, timeoutMs, retries: 0 };
  return { path, timeoutMs, retries: MESH_RETRIES, perTryTimeoutMs };
}

/**
 * The routes of every method called on a service: one per method when its callers share a
 * deadline, else one per caller (matched by source labels) so that each gets attempts that fit its
 * own deadline; a caller-specific route comes before the method's others.
 */
export function routePlans(graph: CallGraph, callee: MeshService, methods: Map<string, ContractMethod>): RoutePlan[] {
  const deadlines = new Map<string, Map<string, number>>();
  for (const { caller, paths } of callersOf(graph, callee.name)) {
    for (const [path, ms] of Object.entries(paths)) deadlines.set(path, (deadlines.get(path) ?? new Map()).set(caller.name, ms));
  }
  return [...deadlines.keys()].sort().flatMap((path) => {
    const method = methods.get(path);
    if (!method) throw new Error(`call graph: ${path} (called on ${callee.name}) is not a method in descriptors/`);
    const byCaller = deadlines.get(path)!;
    const distinct = new Set(byCaller.values());
    if (distinct.size === 1) return [planRoute(path, [...distinct][0]!, method)];
    return [...byCaller.keys()].sort().map((caller) => ({ ...planRoute(path, byCaller.get(caller)!, method), caller }));
  });
}

/** VirtualService: one route per called method, then a catch-all without retries (Istio would retry twice by default). */
function virtualService(graph: CallGraph, service: MeshService, plans: RoutePlan[]): K8sObject {
  const host = fqdn(graph, service.name);
  const destination =
    service.name === 'prediction'
      ? [
          { destination: { host, subset: 'stable', port: { number: service.port } }, weight: 100 - CANARY_WEIGHT },
          { destination: { host, subset: 'canary', port: { number: service.port } }, weight: CANARY_WEIGHT },
        ]
      : [{ destination: { host, port: { number: service.port } } }];
  const http: { name: string; match: { uri: Record<string, string> }[]; [key: string]: unknown }[] = plans.map((plan) => ({
    name: plan.caller ? `${routeName(plan.path)}-from-${plan.caller}` : routeName(plan.path),
    match: [{ uri: { exact: `/${plan.path}` }, ...(plan.caller ? { sourceLabels: { 'app.kubernetes.io/name': plan.caller } } : {}) }],
    route: destination,
    timeout: seconds(plan.timeoutMs),
    retries:
      plan.retries > 0 ? { attempts: plan.retries, perTryTimeout: seconds(plan.perTryTimeoutMs!), retryOn: RETRY_ON } : { attempts: 0 },
  }));
  http.push({ name: 'other', match: [{ uri: { prefix: '/' } }], route: destination, timeout: '10s', retries: { attempts: 0 } });
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: { name: service.name },
    spec: { hosts: [host], http },
  };
}

/** DestinationRule: mutual TLS, least-request balancing, connection limits, ejection of a failing pod. */
function destinationRule(graph: CallGraph, service: MeshService): K8sObject {
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'DestinationRule',
    metadata: { name: service.name },
    spec: {
      host: fqdn(graph, service.name),
      trafficPolicy: {
        tls: { mode: 'ISTIO_MUTUAL' },
        loadBalancer: { simple: 'LEAST_REQUEST' },
        connectionPool: {
          tcp: { maxConnections: 256, connectTimeout: '1s' },
          http: { http2MaxRequests: 1024, maxRequestsPerConnection: 0, maxRetries: 64, idleTimeout: '300s' },
        },
        outlierDetection: {
          consecutiveGatewayErrors: 3,
          consecutive5xxErrors: 5,
          interval: '5s',
          baseEjectionTime: '30s',
          maxEjectionPercent: 50,
        },
      },
      ...(service.name === 'prediction'
        ? {
            subsets: [
              { name: 'stable', labels: { version: 'v1' } },
              { name: 'canary', labels: { version: 'v2' } },
            ],
          }
        : {}),
    },
  };
}

/** AuthorizationPolicy: each caller's principal, only the paths it calls, only on the gRPC port. */
function authorizationPolicy(graph: CallGraph, service: MeshService): K8sObject {
  const rules: unknown[] = callersOf(graph, service.name).map(({ caller, paths }) => ({
    from: [{ source: { principals: [principal(graph, caller.name)] } }],
    to: [
      {
        operation: {
          ports: [String(service.port)],
          paths: Object.keys(paths)
            .sort()
            .map((path) => `/${path}`),
        },
      },
    ],
  }));
  if (service.public) {
    // The public face: every path from the ingress gateway; the gateway checks API keys itself.
    rules.push({ from: [{ source: { principals: [INGRESS_PRINCIPAL] } }], to: [{ operation: { ports: [String(service.port)] } }] });
  }
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: service.name },
    spec: { selector: { matchLabels: { 'app.kubernetes.io/name': service.name } }, action: 'ALLOW', rules },
  };
}

/** Sidecar: the service's proxy knows only the hosts it calls, NATS, its store and the collector. */
function sidecar(graph: CallGraph, service: MeshService): K8sObject {
  const hosts = Object.keys(service.calls)
    .sort()
    .map((callee) => `./${fqdn(graph, callee)}`);
  if (usesNats(service)) hosts.push(`./${fqdn(graph, 'nats')}`, `./${fqdn(graph, 'nats-cluster')}`);
  if (service.store !== 'none') hosts.push(`./${fqdn(graph, service.store)}`);
  hosts.push('istio-system/*', `observability/otel-collector.observability.svc.cluster.local`);
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'Sidecar',
    metadata: { name: service.name },
    spec: {
      workloadSelector: { labels: { 'app.kubernetes.io/name': service.name } },
      egress: [{ hosts }],
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    },
  };
}

/** Every Istio object of one service. */
export function serviceIstioObjects(graph: CallGraph, service: MeshService, methods: Map<string, ContractMethod>): K8sObject[] {
  const plans = routePlans(graph, service, methods);
  const objects = [destinationRule(graph, service), authorizationPolicy(graph, service), sidecar(graph, service)];
  if (plans.length > 0) objects.unshift(virtualService(graph, service, plans));
  return objects;
}

/** Namespace-wide: STRICT mutual TLS, deny what no policy allows, tracing and access logs. */
export function meshWideObjects(graph: CallGraph): K8sObject[] {
  return [
    {
      apiVersion: 'security.istio.io/v1beta1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default' },
      spec: { mtls: { mode: 'STRICT' } },
    },
    // An ALLOW policy with no rules matches nothing: every call needs a policy of its own.
    { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'deny-by-default' }, spec: {} },
    {
      apiVersion: 'telemetry.istio.io/v1alpha1',
      kind: 'Telemetry',
      metadata: { name: 'default' },
      spec: {
        tracing: [{ providers: [{ name: 'otel-tracing' }], randomSamplingPercentage: 10 }],
        accessLogging: [{ providers: [{ name: 'envoy' }], filter: { expression: 'response.code >= 400 || response.grpc_status != 0' } }],
      },
    },
  ];
}

/** Who may reach NATS and the stores, and what NATS' own proxies may call. */
export function dependencyObjects(graph: CallGraph): K8sObject[] {
  const allow = (name: string, rules: unknown[]): K8sObject => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name },
    spec: { selector: { matchLabels: { 'app.kubernetes.io/name': name } }, action: 'ALLOW', rules },
  });
  const natsUsers = graph.services.filter(usesNats).map((s) => principal(graph, s.name));
  const objects = [
    allow('nats', [
      { from: [{ source: { principals: natsUsers } }], to: [{ operation: { ports: [String(graph.nats.client)] } }] },
      { from: [{ source: { principals: [principal(graph, 'nats')] } }], to: [{ operation: { ports: [String(graph.nats.cluster)] } }] },
    ]),
  ];
  for (const store of ['clickhouse', 'postgres'] as const) {
    const users = graph.services.filter((s) => s.store === store).map((s) => principal(graph, s.name));
    objects.push(
      allow(store, [{ from: [{ source: { principals: users } }], to: [{ operation: { ports: [String(STORE_PORTS[store])] } }] }]),
    );
  }
  objects.push({
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'Sidecar',
    metadata: { name: 'nats' },
    spec: {
      workloadSelector: { labels: { 'app.kubernetes.io/name': 'nats' } },
      egress: [{ hosts: [`./${fqdn(graph, 'nats-cluster')}`, 'istio-system/*'] }],
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    },
  });
  return objects;
}

/** The ingress Gateway and the public route to the gateway service: no retries (it fronts writes too), no timeout cutting streams. */
export function ingressObjects(graph: CallGraph): K8sObject[] {
  const gateway = graph.services.find((s) => s.public);
  if (!gateway) return [];
  return [
    {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'Gateway',
      metadata: { name: 'nepse-public' },
      spec: {
        selector: { istio: 'ingressgateway' },
        servers: [
          {
            port: { number: 443, name: 'https', protocol: 'HTTPS' },
            tls: { mode: 'SIMPLE', credentialName: 'nepse-gateway-tls' },
            hosts: [PUBLIC_HOST],
          },
        ],
      },
    },
    {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      metadata: { name: 'nepse-public' },
      spec: {
        hosts: [PUBLIC_HOST],
        gateways: ['nepse-public'],
        http: [
          {
            name: 'gateway',
            route: [{ destination: { host: fqdn(graph, gateway.name), port: { number: gateway.port } } }],
            timeout: '0s',
            retries: { attempts: 0 },
          },
        ],
      },
    },
  ];
}
