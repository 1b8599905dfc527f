import net from 'node:net';

/**
 * The unit that per-address limits count: an IPv4 address as is, an IPv6 address by its /64 (what
 * one subscriber or host gets: counting full addresses would give each of 2^64 addresses its own
 * budget), an IPv4-mapped IPv6 address (::ffff:1.2.3.4) as its IPv4 address.
 */
export function addressGroup(address: string): string {
  // Every IPv6 address has a colon: an IPv4 one (most callers) skips the IPv6 parser's long pattern.
  if (!address.includes(':')) return address;
  const ip = address.replace(/%.*$/, '');
  if (!net.isIPv6(ip)) return address;
  const groups = expandIPv6(ip);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** Eight 16-bit groups of a valid IPv6 address, `::` and a trailing dotted IPv4 part expanded. */
function expandIPv6(ip: string): number[] {
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = ip.split('::');
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
}
