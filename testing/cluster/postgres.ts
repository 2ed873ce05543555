/**
 * A private PostgreSQL server on one host of the bed: a fresh cluster made with initdb in the bed's
 * folder and run with pg_ctl as the `postgres` user (the server refuses root), listening on the
 * host's address only, trusting the bed's network. Private rather than the machine's own server:
 * nothing outside the bed is touched or listened on, and removing the folder removes it all.
 */
import { chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SUBNET, inHost, sh, type Host } from './hosts.js';

const PORT = 5432;

/** A running private PostgreSQL. */
export interface BedPostgres {
  /** DATABASE_URL of its `postgres` database. */
  readonly url: string;
  stop(): Promise<void>;
}

/** The folder holding PostgreSQL's programs (pg_ctl, initdb), from pg_config or Debian's layout. */
async function binDir(): Promise<string> {
  const fromConfig = await sh('pg_config', ['--bindir']).catch(() => '');
  if (fromConfig.trim()) return fromConfig.trim();
  const versions = (await sh('ls', ['/usr/lib/postgresql']).catch(() => '')).split('\n').filter(Boolean).sort();
  if (versions.length === 0) throw new Error('PostgreSQL is not installed: apt-get install postgresql');
  return `/usr/lib/postgresql/${versions.at(-1)}/bin`;
}

/** Creates and starts the server on `host`; its files live in `<dataDir>/postgres`. */
export async function startPostgres(host: Host, dataDir: string): Promise<BedPostgres> {
  const bin = await binDir();
  const dir = join(dataDir, 'postgres');
  await mkdir(dir, { recursive: true });
  // The bed's folder is root's; the server runs as `postgres` and needs to reach and own its own.
  await sh('chmod', ['755', dataDir]);
  const { uid, gid } = await idOf('postgres');
  await chown(dir, uid, gid);
  const asPostgres = ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups'];
  await sh(
    asPostgres[0]!,
    [...asPostgres.slice(1), join(bin, 'initdb'), '-D', join(dir, 'data'), '-U', 'postgres', '-A', 'trust', '--no-sync'],
    120_000,
  );
  const options = `-c listen_addresses=${host.address} -p ${PORT} -k ${dir} -c fsync=off`;
  const pgCtl = (args: string[]) =>
    inHost(host.netns, asPostgres[0]!, [...asPostgres.slice(1), join(bin, 'pg_ctl'), '-D', join(dir, 'data'), ...args], 90_000);
  await sh('sh', ['-c', `echo "host all all ${SUBNET}.0/24 trust" >> ${join(dir, 'data', 'pg_hba.conf')}`]);
  await pgCtl(['-w', '-t', '60', '-o', options, '-l', join(dir, 'log'), 'start']);
  return {
    url: `postgres://postgres@${host.address}:${PORT}/postgres`,
    stop: async () =>
      void (await pgCtl(['-w', '-t', '30', '-m', 'fast', 'stop']).catch(() => pgCtl(['-m', 'immediate', 'stop']).catch(() => undefined))),
  };
}

async function idOf(user: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([sh('id', ['-u', user]), sh('id', ['-g', user])]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}
