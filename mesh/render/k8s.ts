import type { CallGraph, MeshService } from '../call-graph.js';

/** A Kubernetes object as plain data, ready for YAML. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; [key: string]: unknown }; [key: string]: unknown };

/** Numeric user and group every container runs as (no such user in the image: none is needed). */
export const RUN_AS = 10_001;
/** Where a service keeps embedded data (DATA_DIR), on a volume: the root filesystem is read-only. */
export const DATA_MOUNT = '/var/lib/nepse';
/**
 * Seconds preStop waits before SIGTERM, so that endpoints and sidecars stop sending new calls
 * first; then the service drains for up to 5 s (lib/runtime's host.stop) and flushes spans for up
 * to 2 s. The grace period covers all three with room for stores to close.
 */
export const PRE_STOP_SECONDS = 5;
export const TERMINATION_GRACE_SECONDS = 20;
/** Where the gateway finds its API keys (Secret `nepse-gateway-keys`). */
export const GATEWAY_KEYS_MOUNT = '/etc/nepse/gateway';

/** Labels of a service's pods; `app` and `version` are the ones Istio's telemetry and subsets read. */
export function podLabels(name: string, version = 'v1'): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'nepse-mesh', app: name, version };
}

const selector = (name: string) => ({ 'app.kubernetes.io/name': name });

/** Whether a service talks to NATS at all. */
export const usesNats = (service: MeshService) => service.publishes.length > 0 || service.consumes.length > 0;

/** The environment of a service in the base: what every overlay starts from. */
export function baseEnv(graph: CallGraph, service: MeshService): Record<string, string> {
  const env: Record<string, string> = {
    [`${service.name.toUpperCase()}_PORT`]: String(service.port),
    [`${service.name.toUpperCase()}_METRICS_PORT`]: String(service.metricsPort),
    BIND_HOST: '0.0.0.0',
    LOG_LEVEL: 'info',
    RESILIENCE_MODE: 'app',
  };
  if (service.name !== 'gateway') env.DATA_DIR = DATA_MOUNT;
  if (usesNats(service)) {
    env.NATS_URL = `nats://nats:${graph.nats.client}`;
    env.NATS_STREAM_REPLICAS = '1';
  }
  for (const callee of Object.keys(service.calls).sort()) {
    const target = graph.services.find((s) => s.name === callee)!;
    env[`NEPSE_${callee.toUpperCase()}_ADDR`] = `${callee}:${target.port}`;
  }
  if (service.name === 'gateway') {
    env.GATEWAY_CORS_ORIGINS = 'https://nepse.example';
    env.GATEWAY_API_KEYS_FILE = `${GATEWAY_KEYS_MOUNT}/keys.yaml`;
  }
  return env;
}

/** A gRPC probe of the service's own health name (grpc.health.v1, SERVING once its stores and consumers are up). */
function grpcProbe(service: MeshService, timing: Record<string, number>) {
  return { grpc: { port: service.port, service: service.serves[0] }, ...timing };
}

/** The Deployment of one service: hardened, probed, drained on SIGTERM, scraped by Prometheus. */
export function deployment(service: MeshService, options: { name?: string; version?: string; replicas?: number } = {}): K8sObject {
  const name = options.name ?? service.name;
  const labels = podLabels(service.name, options.version);
  const env: unknown[] = [];
  if (service.name === 'prediction') {
    // A stable id per replica (its pod name) so a restart resumes its durable consumer.
    env.push({ name: 'PREDICTION_INSTANCE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
  }
  const volumeMounts: unknown[] = [{ name: 'tmp', mountPath: '/tmp' }];
  const volumes: unknown[] = [{ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }];
  if (service.name !== 'gateway') {
    volumeMounts.unshift({ name: 'data', mountPath: DATA_MOUNT });
    volumes.unshift({ name: 'data', emptyDir: {} });
  } else {
    volumeMounts.push({ name: 'keys', mountPath: GATEWAY_KEYS_MOUNT, readOnly: true });
    volumes.push({ name: 'keys', secret: { secretName: 'nepse-gateway-keys', defaultMode: 0o440, optional: false } });
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { ...labels } },
    spec: {
      replicas: options.replicas ?? 1,
      revisionHistoryLimit: 3,
      // The version is part of the selector so that a canary Deployment's pods are never the stable one's.
      selector: { matchLabels: { ...selector(service.name), version: options.version ?? 'v1' } },
      template: {
        metadata: {
          labels,
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(service.metricsPort),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: {
          serviceAccountName: service.name,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: RUN_AS,
            runAsGroup: RUN_AS,
            fsGroup: RUN_AS,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: service.name,
              image: `nepse-${service.name}`,
              imagePullPolicy: 'IfNotPresent',
              ports: [
                { name: 'grpc-api', containerPort: service.port, protocol: 'TCP' },
                { name: 'http-metrics', containerPort: service.metricsPort, protocol: 'TCP' },
              ],
              envFrom: [{ configMapRef: { name: `${service.name}-env` } }],
              ...(env.length > 0 ? { env } : {}),
              resources: {
                requests: { cpu: service.resources.cpu, memory: service.resources.memory },
                limits: { cpu: service.resources.cpuLimit, memory: service.resources.memoryLimit },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
              },
              // Migrations and warming the online cache can take a while; startup covers up to 2 min.
              startupProbe: grpcProbe(service, { periodSeconds: 2, failureThreshold: 60, timeoutSeconds: 2 }),
              readinessProbe: grpcProbe(service, { periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 2 }),
              // Generous: NOT_SERVING while a dependency is away should take the pod out of load
              // balancing (readiness), not restart it.
              livenessProbe: grpcProbe(service, { periodSeconds: 10, failureThreshold: 6, timeoutSeconds: 2 }),
              lifecycle: { preStop: { exec: { command: ['/bin/sleep', String(PRE_STOP_SECONDS)] } } },
              volumeMounts,
            },
          ],
          volumes,
        },
      },
    },
  };
}

/** ServiceAccount, ConfigMap, Deployment and Service of one service. */
export function serviceObjects(graph: CallGraph, service: MeshService): K8sObject[] {
  const labels = podLabels(service.name);
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: service.name, labels },
      automountServiceAccountToken: false,
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${service.name}-env`, labels: { ...labels, 'nepse.io/uses-nats': String(usesNats(service)) } },
      data: baseEnv(graph, service),
    },
    deployment(service),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: service.name, labels },
      spec: {
        selector: selector(service.name),
        ports: [
          { name: 'grpc-api', port: service.port, targetPort: 'grpc-api', appProtocol: 'grpc' },
          { name: 'http-metrics', port: service.metricsPort, targetPort: 'http-metrics', appProtocol: 'http' },
        ],
      },
    },
  ];
}

/** The namespace, with sidecar injection on (the dev overlay turns it off). */
export function namespace(graph: CallGraph): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: graph.namespace, labels: { 'istio-injection': 'enabled', 'app.kubernetes.io/part-of': 'nepse-mesh' } },
  };
}
