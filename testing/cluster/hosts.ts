/**
 * Hosts on one machine: network namespaces joined by veth pairs to a bridge that lives in a
 * namespace of its own (so traffic between hosts never passes this machine's firewall), plus one
 * veth from the root namespace to the bridge, so the tests reach every host at its address.
 * Everything is named with one prefix, which is how a later run finds and removes what an aborted
 * run left behind. Needs root and `ip` from iproute2; `nft` for cutting links.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Prefix of every namespace and link the bed makes. */
export const HOST_PREFIX = 'nepse-cl';
/** The bed's private network: hosts are .11, .12, …; the root namespace is .1. */
export const SUBNET = '10.213.0';
/** Address of the root namespace on the bed's network (where the tests run). */
export const ROOT_ADDRESS = `${SUBNET}.1`;
const BRIDGE_NS = `${HOST_PREFIX}-br`;
const ROOT_LINK = `${HOST_PREFIX}-root`;

/** One host of the bed. */
export interface Host {
  /** Short name (`n1`, …). */
  readonly name: string;
  /** Its network namespace (`ip netns exec <netns> …`). */
  readonly netns: string;
  /** Its address on the bed's network. */
  readonly address: string;
}

/** Runs a command, bounded; rejects with its stderr. */
export async function sh(file: string, args: readonly string[], timeoutMs = 15_000): Promise<string> {
  try {
    const { stdout } = await run(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL' });
    return stdout;
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new Error(`${file} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** `ip netns exec <netns> <command…>`. */
export const inHost = (netns: string, file: string, args: readonly string[], timeoutMs?: number) =>
  sh('ip', ['netns', 'exec', netns, file, ...args], timeoutMs);

/**
 * Removes every namespace and link with the bed's prefix, killing (SIGKILL, by pid) what still
 * runs inside those namespaces: only processes an earlier run of the bed started live there.
 */
export async function removeHosts(): Promise<void> {
  const listed = await sh('ip', ['netns', 'list']);
  const namespaces = listed
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.startsWith(`${HOST_PREFIX}-`));
  for (const netns of namespaces) {
    const pids = (await sh('ip', ['netns', 'pids', netns]).catch(() => '')).split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  // Deleting the bridge's namespace deletes the peers of every veth, and with them the veths.
  for (const netns of namespaces) await sh('ip', ['netns', 'delete', netns]).catch(() => undefined);
  await sh('ip', ['link', 'delete', ROOT_LINK]).catch(() => undefined);
}

/**
 * Makes `count` hosts (`n1` at .11, `n2` at .12, …) on the bed's network, after removing any left
 * from an earlier run. Each has loopback and one interface `eth0`.
 */
export async function createHosts(count: number): Promise<Host[]> {
  await removeHosts();
  await sh('ip', ['netns', 'add', BRIDGE_NS]);
  await inHost(BRIDGE_NS, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
  await inHost(BRIDGE_NS, 'ip', ['link', 'set', 'br0', 'up']);
  const attach = async (outer: string, outerNs: string | undefined, address: string) => {
    // The veth is made here with its bridge end already in the bridge's namespace; the other end
    // then moves to its host (or stays here, for the root namespace).
    const port = `p-${outer.slice(HOST_PREFIX.length + 1)}`;
    await sh('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', port, 'netns', BRIDGE_NS]);
    await inHost(BRIDGE_NS, 'ip', ['link', 'set', port, 'master', 'br0', 'up']);
    if (outerNs) await sh('ip', ['link', 'set', outer, 'netns', outerNs]);
    const ip = (args: string[]) => (outerNs ? inHost(outerNs, 'ip', args) : sh('ip', args));
    const device = outerNs ? 'eth0' : outer;
    if (outerNs) await ip(['link', 'set', outer, 'name', device]);
    await ip(['addr', 'add', `${address}/24`, 'dev', device]);
    await ip(['link', 'set', device, 'up']);
  };
  await attach(ROOT_LINK, undefined, ROOT_ADDRESS);
  const hosts: Host[] = [];
  for (let i = 1; i <= count; i++) {
    const host = { name: `n${i}`, netns: `${HOST_PREFIX}-n${i}`, address: `${SUBNET}.${10 + i}` };
    await sh('ip', ['netns', 'add', host.netns]);
    await inHost(host.netns, 'ip', ['link', 'set', 'lo', 'up']);
    await attach(`${HOST_PREFIX}-v${i}`, host.netns, host.address);
    hosts.push(host);
  }
  return hosts;
}

/** Drops every packet between `host` and `peer`, in `host`'s own firewall (nftables), until {@link joinLink}. */
export async function cutLink(host: Host, peer: Host): Promise<void> {
  await inHost(host.netns, 'nft', ['add', 'table', 'inet', 'nepse_cut']);
  for (const hook of ['input', 'output']) {
    await inHost(host.netns, 'nft', ['add', 'chain', 'inet', 'nepse_cut', hook, `{ type filter hook ${hook} priority 0; }`]);
  }
  await inHost(host.netns, 'nft', ['add', 'rule', 'inet', 'nepse_cut', 'input', 'ip', 'saddr', peer.address, 'drop']);
  await inHost(host.netns, 'nft', ['add', 'rule', 'inet', 'nepse_cut', 'output', 'ip', 'daddr', peer.address, 'drop']);
}

/** Undoes {@link cutLink}. */
export async function joinLink(host: Host): Promise<void> {
  await inHost(host.netns, 'nft', ['delete', 'table', 'inet', 'nepse_cut']);
}
