import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { contractMethods, loadCallGraph, principal } from '../../mesh/call-graph.js';
import type { K8sObject } from '../../mesh/render/k8s.js';
import { istioFiles, kustomize, OVERLAYS, renderAll } from './manifests.js';
import { configReader, kitEnv, readServiceCode, servicesInCode } from './service-code.js';

type Rule = { from?: { source: { principals?: string[] } }[]; to?: { operation: { paths?: string[]; ports?: string[] } }[] };
type Route = {
  match?: { uri: { exact?: string; prefix?: string } }[];
  timeout?: string;
  retries?: { attempts: number; perTryTimeout?: string };
};
type Container = {
  name: string;
  ports?: { name: string; containerPort: number }[];
  envFrom?: { configMapRef?: { name: string } }[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: unknown; secretKeyRef?: unknown } }[];
  readinessProbe?: { grpc?: { port: number; service?: string } };
  livenessProbe?: { grpc?: { port: number; service?: string } };
  startupProbe?: { grpc?: { port: number; service?: string } };
};

const graph = loadCallGraph();
const methods = contractMethods();
const istio = istioFiles().flatMap(({ objects }) => objects);
const ms = (duration: string) => Number.parseFloat(duration) * 1000;
const inCode = servicesInCode();

/** The env a container gets: its ConfigMaps' data and its own entries, a stand-in for each value from elsewhere. */
function containerEnv(objects: K8sObject[], container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const map = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === source.configMapRef?.name);
    assert.ok(map, `ConfigMap ${source.configMapRef?.name} is rendered`);
    Object.assign(env, map.data);
  }
  for (const entry of container.env ?? []) {
    env[entry.name] =
      entry.value ??
      (entry.valueFrom?.fieldRef ? 'pod-name-0' : /_URL$/.test(entry.name) ? 'postgres://user:secret@db:5432/nepse' : 'secret');
  }
  return env;
}

/** The Deployments of the mesh's services in an overlay, with their one container. */
function serviceWorkloads(objects: K8sObject[]) {
  return objects.flatMap((object) => {
    if (object.kind !== 'Deployment') return [];
    const container = (object as unknown as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec
      .containers[0]!;
    const service = graph.services.find((s) => s.name === container.name);
    return service ? [{ deployment: object.metadata.name, service, container }] : [];
  });
}

describe('mesh manifests against the contracts and the code', () => {
  before(() => renderAll());

  it('name only methods that exist in descriptors/ in routes and authorization', () => {
    for (const object of istio) {
      const paths: string[] = [];
      if (object.kind === 'AuthorizationPolicy') {
        for (const rule of (object.spec as { rules?: Rule[] }).rules ?? [])
          for (const to of rule.to ?? []) paths.push(...(to.operation.paths ?? []));
      }
      if (object.kind === 'VirtualService') {
        for (const route of (object.spec as { http: Route[] }).http)
          for (const match of route.match ?? []) if (match.uri.exact) paths.push(match.uri.exact);
      }
      for (const path of paths)
        assert.ok(methods.has(path.slice(1)), `${object.kind} ${object.metadata.name}: ${path} is not a method in descriptors/`);
    }
  });

  for (const service of graph.services) {
    it(`allow ${service.name} exactly the RPCs its code calls, the events it uses, on what it serves`, async (t) => {
      if (!inCode.includes(service.name)) return t.skip(`services/${service.name}/main.ts does not exist yet`);
      const code = await readServiceCode(service.name);
      const allowed = new Set<string>();
      for (const policy of istio.filter((o) => o.kind === 'AuthorizationPolicy')) {
        const target = (policy.spec as { selector?: { matchLabels: Record<string, string> } }).selector?.matchLabels[
          'app.kubernetes.io/name'
        ];
        const callee = graph.services.find((s) => s.name === target);
        for (const rule of (policy.spec as { rules?: Rule[] }).rules ?? []) {
          if (!rule.from?.some((f) => f.source.principals?.includes(principal(graph, service.name)))) continue;
          for (const to of rule.to ?? []) {
            for (const path of to.operation.paths ?? []) {
              allowed.add(path.slice(1));
              // The path must be served by the workload the policy guards.
              if (callee && !path.startsWith('/grpc.health.v1.'))
                assert.ok(callee.serves.includes(path.slice(1).split('/')[0]!), `${path} allowed on ${target}, which does not serve it`);
            }
          }
        }
      }
      assert.deepEqual(
        [...allowed].sort(),
        [...code.calls].sort(),
        `allowed for ${principal(graph, service.name)} vs called in services/${service.name}`,
      );
      assert.deepEqual([...code.serves].sort(), [...service.serves].sort(), 'served in code vs call graph');
      assert.deepEqual(
        [...code.events].sort(),
        [...new Set([...service.publishes, ...service.consumes])].sort(),
        'events in code vs call graph',
      );
    });
  }

  it('retry only read-only unary methods, with every attempt inside the route timeout', () => {
    for (const object of istio.filter((o) => o.kind === 'VirtualService')) {
      for (const route of (object.spec as { http: Route[] }).http) {
        // Istio retries twice when a route says nothing: every route must say.
        assert.ok(route.retries, `${object.metadata.name}: a route without retries set`);
        if (route.retries.attempts === 0) continue;
        const path = route.match?.[0]?.uri.exact;
        assert.ok(path, `${object.metadata.name}: retries on a route that is not one method`);
        const method = methods.get(path.slice(1))!;
        assert.ok(
          method.noSideEffects && method.kind === 'unary',
          `${path} is retried but is ${method.kind}${method.noSideEffects ? '' : ' with side effects'}`,
        );
        assert.ok(
          (route.retries.attempts + 1) * ms(route.retries.perTryTimeout!) <= ms(route.timeout!),
          `${path}: attempts outlast the route timeout`,
        );
      }
    }
  });

  for (const overlay of OVERLAYS) {
    it(`${overlay}: set only environment a service's config knows, with ports and probe names it registers`, async (t) => {
      const objects = await kustomize(`mesh/k8s/overlays/${overlay}`);
      const kit = kitEnv();
      for (const { deployment, service, container } of serviceWorkloads(objects)) {
        const read = await configReader(service.name);
        if (!read) {
          t.diagnostic(`services/${service.name}/config.ts does not exist yet: ${deployment} unchecked`);
          continue;
        }
        const env = containerEnv(objects, container);
        const config = read(env);
        for (const name of Object.keys(env))
          assert.ok(name in config || kit.has(name), `${overlay} ${deployment}: ${name} is unknown to services/${service.name}/config.ts`);
        const ports = Object.fromEntries((container.ports ?? []).map((p) => [p.name, p.containerPort]));
        const prefix = service.name.toUpperCase();
        // The podman overlay declares no container ports (podman maps them, the host network refuses).
        if (container.ports) {
          assert.equal(ports['grpc-api'], config[`${prefix}_PORT`], `${deployment}: grpc-api port`);
          assert.equal(
            ports['http-metrics'],
            config[`${prefix}_METRICS_PORT`] ?? Number(config[`${prefix}_PORT`]) + 1000,
            `${deployment}: http-metrics port`,
          );
        }
        const code = await readServiceCode(service.name);
        for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
          assert.equal(probe?.grpc?.port, config[`${prefix}_PORT`], `${deployment}: probe port`);
          assert.ok(
            code.serves.has(probe?.grpc?.service ?? ''),
            `${deployment}: probe asks for ${probe?.grpc?.service}, which the process does not register`,
          );
        }
      }
    });
  }
});
