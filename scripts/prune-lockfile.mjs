// Keeps package-lock.json installable with `npm ci`. chdb lists per-platform engine packages as
// optional dependencies, some of which the registry does not publish; npm then leaves them out of
// the lock but `npm ci` still asks for them. This drops such unresolvable optional entries.
// Runs after every `npm install` (package.json "postinstall"); a no-op when nothing needs pruning.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
let lock;
try {
  lock = JSON.parse(readFileSync(path, 'utf8'));
} catch {
  process.exit(0);
}
let pruned = 0;
for (const [location, entry] of Object.entries(lock.packages ?? {})) {
  for (const name of Object.keys(entry.optionalDependencies ?? {})) {
    const installedAt = [`${location ? `${location}/` : ''}node_modules/${name}`, `node_modules/${name}`];
    if (!installedAt.some((p) => p in lock.packages)) {
      delete entry.optionalDependencies[name];
      pruned++;
    }
  }
}
if (pruned > 0) {
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`prune-lockfile: removed ${pruned} optional dependencies the registry does not publish`);
}
