import { callersOf, type CallGraph } from '../call-graph.js';
import { usesNats, type K8sObject } from './k8s.js';

/** Ports of the store servers the production overlay runs. */
export const STORE_PORTS = { clickhouse: 8123, postgres: 5432 } as const;
/** Port of the OpenTelemetry collector's OTLP/HTTP receiver (namespace `observability`). */
export const OTLP_PORT = 4318;
/** Port where Istio's agent serves the merged Prometheus metrics of a pod with a sidecar. */
export const ISTIO_MERGED_METRICS_PORT = 15020;

const byName = (name: string) => ({ matchLabels: { 'app.kubernetes.io/name': name } });
const pods = (names: string[]) => ({
  podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: [...names].sort() }] },
});
const inNamespace = (name: string) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } } });
const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }));

function policy(name: string, spec: Record<string, unknown>): K8sObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name }, spec };
}

/**
 * NetworkPolicies: deny everything, then allow exactly the call graph's edges, each service's path
 * to NATS and its store, DNS, Istio's control plane, the OTLP collector, and Prometheus' scrapes.
 */
export function networkPolicies(graph: CallGraph): K8sObject[] {
  const natsUsers = graph.services.filter(usesNats).map((s) => s.name);
  const objects: K8sObject[] = [
    policy('default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    policy('allow-platform-egress', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ ...inNamespace('kube-system'), podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [{ protocol: 'UDP', port: 53 }, ...tcp(53)],
        },
        // istiod: xDS and certificates for the sidecars (nothing listens there without Istio).
        { to: [inNamespace('istio-system')], ports: tcp(15012, 15017) },
        { to: [inNamespace('observability')], ports: tcp(OTLP_PORT) },
      ],
    }),
  ];
  for (const service of graph.services) {
    const callers = callersOf(graph, service.name).map(({ caller }) => caller.name);
    const ingress: unknown[] = [{ from: [inNamespace('monitoring')], ports: tcp(service.metricsPort, ISTIO_MERGED_METRICS_PORT) }];
    if (callers.length > 0) ingress.push({ from: [pods(callers)], ports: tcp(service.port) });
    if (service.public) ingress.push({ from: [inNamespace('istio-system')], ports: tcp(service.port) });
    const egress: unknown[] = Object.keys(service.calls)
      .sort()
      .map((callee) => ({ to: [{ podSelector: byName(callee) }], ports: tcp(graph.services.find((s) => s.name === callee)!.port) }));
    if (usesNats(service)) egress.push({ to: [{ podSelector: byName('nats') }], ports: tcp(graph.nats.client) });
    if (service.store !== 'none') egress.push({ to: [{ podSelector: byName(service.store) }], ports: tcp(STORE_PORTS[service.store]) });
    objects.push(policy(service.name, { podSelector: byName(service.name), policyTypes: ['Ingress', 'Egress'], ingress, egress }));
  }
  objects.push(
    policy('nats', {
      podSelector: byName('nats'),
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        { from: [pods(natsUsers)], ports: tcp(graph.nats.client) },
        { from: [{ podSelector: byName('nats') }], ports: tcp(graph.nats.cluster) },
        { from: [inNamespace('monitoring')], ports: tcp(graph.nats.monitor, ISTIO_MERGED_METRICS_PORT) },
      ],
      egress: [{ to: [{ podSelector: byName('nats') }], ports: tcp(graph.nats.cluster) }],
    }),
  );
  for (const store of ['clickhouse', 'postgres'] as const) {
    const users = graph.services.filter((s) => s.store === store).map((s) => s.name);
    objects.push(
      policy(store, {
        podSelector: byName(store),
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [pods(users)], ports: tcp(STORE_PORTS[store]) }],
        egress: [],
      }),
    );
  }
  return objects;
}
