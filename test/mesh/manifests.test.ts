import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { staleFiles } from '../../mesh/generate.js';
import { istioFiles, kustomize, OVERLAYS, renderAll, validateObject } from './manifests.js';

describe('mesh manifests', () => {
  before(() => renderAll());

  it('are what mesh/generate.ts makes from the call graph', () => {
    assert.deepEqual(staleFiles(), [], 'run make mesh');
  });

  for (const overlay of OVERLAYS) {
    it(`render the ${overlay} overlay, every object valid against its Kubernetes schema`, async () => {
      const objects = await kustomize(`mesh/k8s/overlays/${overlay}`);
      assert.ok(objects.some((object) => object.kind === 'Deployment'));
      for (const object of objects) await validateObject(object);
    });
  }

  it('render mesh/istio, every object of every file valid against its Istio schema', async () => {
    assert.ok((await kustomize('mesh/istio')).length > 0);
    for (const { objects } of istioFiles()) {
      for (const object of objects) await validateObject(object);
    }
  });

  it('reject a broken copy: a Deployment with a string for replicas, a route with a string for attempts', async () => {
    const deployment = structuredClone((await kustomize('mesh/k8s/overlays/dev')).find((object) => object.kind === 'Deployment')!);
    await validateObject(deployment);
    (deployment.spec as { replicas: unknown }).replicas = 'three';
    await assert.rejects(validateObject(deployment), /replicas/);

    const route = structuredClone(
      istioFiles()
        .flatMap((file) => file.objects)
        .find((object) => object.kind === 'VirtualService')!,
    );
    await validateObject(route);
    (route.spec as { http: { retries: { attempts: unknown } }[] }).http[0]!.retries.attempts = 'two';
    await assert.rejects(validateObject(route), /attempts/);
  });
});
