/**
 * Network addresses as text, from the bytes a BPF program stores (network byte order): IPv4
 * dotted quads, IPv6 in the form `inet_ntop(3)` prints (glibc's and libuv's, both from ISC's
 * code, so the text equals what libbpf-tools print and what Node's `net` APIs return), and MAC
 * addresses. No allocation beyond the returned string.
 */

/** `a.b.c.d` from the 4 bytes at `offset`. */
export function ipv4Text(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/**
 * An IPv6 address from the 16 bytes at `offset`, as ISC's `inet_ntop6` writes it: lowercase hex
 * groups without leading zeros, the first longest run of two or more zero groups as `::`, and an
 * IPv4 tail (`::ffff:1.2.3.4`, `::1.2.3.4`) for IPv4-mapped and IPv4-compatible addresses.
 */
export function ipv6Text(bytes: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((bytes[offset + 2 * i] as number) << 8) | (bytes[offset + 2 * i + 1] as number));
  // The first longest run of zero words, if it is at least two long.
  let bestBase = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && words[end] === 0) end++;
    if (end - i > bestLength) {
      bestBase = i;
      bestLength = end - i;
    }
    i = end;
  }
  if (bestLength < 2) bestBase = -1;
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLength) {
      if (i === bestBase) text += ':';
      continue;
    }
    if (i !== 0) text += ':';
    // Encapsulated IPv4: ::a.b.c.d (compatible) or ::ffff:a.b.c.d (mapped).
    if (i === 6 && bestBase === 0 && (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff))) {
      return text + ipv4Text(bytes, offset + 12);
    }
    text += (words[i] as number).toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLength === 8) text += ':';
  return text;
}

/** `aa:bb:cc:dd:ee:ff` from the 6 bytes at `offset`. */
export function macText(bytes: Uint8Array, offset = 0): string {
  let text = '';
  for (let i = 0; i < 6; i++) text += (i === 0 ? '' : ':') + (bytes[offset + i] as number).toString(16).padStart(2, '0');
  return text;
}
