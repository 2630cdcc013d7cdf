/**
 * The running kernel's build configuration (`/proc/config.gz`, or `/boot/config-RELEASE`), read
 * only to explain failures precisely: "CONFIG_KPROBES is not set" instead of "not supported".
 * Absent on many systems, so callers treat `undefined` as "unknown", never as "off".
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';

let cached: Map<string, string> | null | undefined;

function load(): Map<string, string> | null {
  let text: string | undefined;
  try {
    text = gunzipSync(readFileSync('/proc/config.gz')).toString('latin1');
  } catch {
    try {
      text = readFileSync(`/boot/config-${release()}`, 'latin1');
    } catch {
      return null;
    }
  }
  const options = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_[A-Z0-9_]+)=(.*)$/.exec(line);
    if (set) options.set(set[1]!, set[2]!);
  }
  return options;
}

/**
 * Whether the running kernel was built with `option` (`'CONFIG_KPROBES'`): `true` for `=y`/`=m`
 * or any value, `false` when the configuration is readable and the option is absent or
 * `is not set`, `undefined` when no configuration can be read.
 */
export function kernelConfigHas(option: string): boolean | undefined {
  if (cached === undefined) cached = load();
  if (cached === null) return undefined;
  const value = cached.get(option);
  return value !== undefined && value !== 'n';
}
