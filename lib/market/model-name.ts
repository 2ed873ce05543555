/**
 * The one rule for model names and aliases, as the contracts state it (registry.proto,
 * training.proto): a lower-case letter, then lower-case letters, digits, `_` or `-`, at most 63
 * characters in all, e.g. `nepse-ridge` or `champion`. Every service that reads a name checks it
 * here, so a name one service accepts is never refused by another.
 */

/** The characters of a model name without anchors, to compose into larger patterns (cursors). */
export const MODEL_NAME_CHARS = '[a-z][a-z0-9_-]{0,62}';

/** A whole model name or alias: `^[a-z][a-z0-9_-]{0,62}$`. */
export const MODEL_NAME_PATTERN = new RegExp(`^${MODEL_NAME_CHARS}$`);

/** Whether `value` is a well-formed model name (or alias). */
export function isModelName(value: string): boolean {
  return MODEL_NAME_PATTERN.test(value);
}
