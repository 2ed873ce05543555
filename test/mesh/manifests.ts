import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../../mesh/call-graph.js';
import type { K8sObject } from '../../mesh/render/k8s.js';

/** The overlays under mesh/k8s/overlays. */
export const OVERLAYS = readdirSync(join(ROOT, 'mesh/k8s/overlays'));

/** Parses a YAML stream into objects, skipping empty documents. */
export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

const rendered = new Map<string, Promise<K8sObject[]>>();

/** Renders a kustomization with kubectl (kustomize built in), once per process; a copy each call. */
export async function kustomize(dir: string): Promise<K8sObject[]> {
  if (!rendered.has(dir)) {
    const run = promisify(execFile)('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
    rendered.set(
      dir,
      run.then(({ stdout }) => parseObjects(stdout)),
    );
  }
  return structuredClone(await rendered.get(dir)!);
}

/** Renders every overlay at once (kubectl takes seconds to start; in parallel they overlap). */
export function renderAll(): Promise<unknown> {
  return Promise.all([...OVERLAYS.map((overlay) => kustomize(`mesh/k8s/overlays/${overlay}`)), kustomize('mesh/istio')]);
}

/** Every object in mesh/istio's files (the kustomization itself aside), with the file it came from. */
export function istioFiles(): { file: string; objects: K8sObject[] }[] {
  const folder = join(ROOT, 'mesh/istio');
  return readdirSync(folder)
    .filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml')
    .map((name) => ({ file: `mesh/istio/${name}`, objects: parseObjects(readFileSync(join(folder, name), 'utf8')) }));
}

type Model = new (data: unknown) => { validate(): void };

/** The kubernetes-models (or @kubernetes-models/istio) class of an object's apiVersion and kind. */
async function modelOf(object: K8sObject): Promise<Model> {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  const module = group.endsWith('istio.io')
    ? `@kubernetes-models/istio/${group}/${version}`
    : `kubernetes-models/${group ? `${group}/` : ''}${version}`;
  const models = (await import(module)) as Record<string, Model>;
  const model = models[object.kind];
  if (!model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  return model;
}

/** Validates an object against its schema; throws with the object's kind and name on a violation. */
export async function validateObject(object: K8sObject): Promise<void> {
  const Model = await modelOf(object);
  try {
    new Model(object).validate();
  } catch (error) {
    throw new Error(`${object.kind} ${object.metadata?.name}: ${(error as Error).message}`);
  }
}
