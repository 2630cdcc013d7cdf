/**
 * Network interfaces by name or index, from `/sys/class/net` (the interfaces of the network
 * namespace sysfs was mounted in, which is the one `BPF_LINK_CREATE` resolves an ifindex in for
 * a process that has not moved).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { argumentError } from '../../sys/errors.js';
import { BpfAttachError, type AttachSubject } from './errors.js';

/** An interface, as XDP and tcx attach options take it: its name or its index. */
export type NetworkInterface = string | number;

const interfaceName = /^[^/\s:]{1,15}$/;

function indexOfName(name: string): number | undefined {
  try {
    const index = Number.parseInt(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim(), 10);
    return Number.isSafeInteger(index) && index > 0 ? index : undefined;
  } catch {
    return undefined;
  }
}

/** The name of interface `index`, or undefined when there is none. */
export function interfaceNameOf(index: number): string | undefined {
  let names: string[];
  try {
    names = readdirSync('/sys/class/net');
  } catch {
    return undefined;
  }
  return names.find((name) => indexOfName(name) === index);
}

/**
 * Resolves an interface name or index to `{ ifindex, name }`.
 * @throws TypeError `ERR_BPFMAP_INTERFACE` for a malformed argument; BpfAttachError
 * `ERR_BPFMAP_ATTACH_INTERFACE` when no such interface exists.
 */
export function resolveInterface(iface: NetworkInterface, subject: AttachSubject): { ifindex: number; name: string } {
  if (typeof iface === 'number') {
    if (!Number.isInteger(iface) || iface <= 0 || iface > 0x7fffffff) {
      throw argumentError(RangeError, 'ERR_BPFMAP_INTERFACE', `interface index must be a positive integer, got ${iface}`);
    }
    const name = interfaceNameOf(iface);
    if (name === undefined) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_INTERFACE', `no network interface has index ${iface} (see ip link)`);
    return { ifindex: iface, name };
  }
  if (typeof iface !== 'string' || !interfaceName.test(iface) || iface === '.' || iface === '..') {
    throw argumentError(TypeError, 'ERR_BPFMAP_INTERFACE', `interface must be a name of 1 to 15 characters without '/', ':' or spaces, or an index; got ${JSON.stringify(iface)}`);
  }
  const ifindex = indexOfName(iface);
  if (ifindex === undefined) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_INTERFACE', `no network interface named '${iface}' in this network namespace (see ip link)`);
  return { ifindex, name: iface };
}
