/**
 * Fields several monitoring requests share, validated one way: a model name, a model version, the
 * model being one monitoring has heard of. Each failure is INVALID_ARGUMENT (or NOT_FOUND) naming
 * the field.
 */
import { InvalidArgumentError, NotFoundError } from '../../lib/grpc/index.js';
import { isModelName, MODEL_NAME_PATTERN } from '../../lib/market/index.js';
import type { ModelsSeen } from './models-seen.js';

/** The trimmed model name of `field`; '' when empty and not `required`. */
export function modelNameField(raw: string, required: boolean, field = 'model_name'): string {
  const name = raw.trim();
  if (name === '') {
    if (required) throw new InvalidArgumentError({ field, description: `${field} is required` });
    return '';
  }
  if (!isModelName(name))
    throw new InvalidArgumentError({
      field,
      description: `${JSON.stringify(name.slice(0, 70))} is not a model name (${MODEL_NAME_PATTERN.source})`,
    });
  return name;
}

/** A model version of `field`: 0 (every version) or a version >= 1. */
export function modelVersionField(version: number, field = 'model_version'): number {
  if (version < 0) throw new InvalidArgumentError({ field, description: `must be 0 (every version) or a version >= 1, got ${version}` });
  return version;
}

/** NOT_FOUND (resource `model`) unless a prediction of the name (and version, when not 0) was seen. */
export function requireSeen(models: ModelsSeen, name: string, version: number): void {
  if (!models.has(name)) throw new NotFoundError('model', name, `no prediction of model ${JSON.stringify(name)} was ever seen`);
  if (!models.has(name, version))
    throw new NotFoundError('model', `${name} v${version}`, `no prediction of ${name} v${version} was ever seen`);
}
