import dns from "node:dns"
import type { LookupAddress, LookupAllOptions, LookupOptions } from "node:dns"
import net from "node:net"

/**
 * IPv4 ranges outside the public unicast space, each a network address and
 * a prefix length. They are: this network, the private networks of RFC
 * 1918, shared address space, loopback, and link-local, where cloud
 * metadata endpoints listen. Then IETF protocol assignments, documentation,
 * the 6to4 relay, benchmarking, multicast, and the reserved block up to
 * the broadcast address.
 */
const privateIpv4Ranges: ReadonlyArray<readonly [string, number]> = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4]
]

const ipv4Number = (address: string): number =>
  address.split(".").reduce((value, octet) => value * 256 + Number(octet), 0)

const privateIpv4Networks = privateIpv4Ranges.map(([network, prefix]) => {
  const size = 2 ** (32 - prefix)
  return { first: ipv4Number(network), size }
})

const isPrivateIpv4 = (address: string): boolean => {
  const value = ipv4Number(address)
  return privateIpv4Networks.some(({ first, size }) => value >= first && value < first + size)
}

/** Expands a valid IPv6 address, without brackets or zone, into its eight 16-bit groups. */
const ipv6Groups = (address: string): Array<number> => {
  let text = address
  // A trailing dotted IPv4 address stands for the last two groups.
  const lastColon = text.lastIndexOf(":")
  const tail = text.slice(lastColon + 1)
  if (tail.includes(".")) {
    const value = ipv4Number(tail)
    text = `${text.slice(0, lastColon + 1)}${(value >>> 16).toString(16)}:${(value & 0xffff).toString(16)}`
  }
  const [head = "", rest] = text.split("::")
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((group) => parseInt(group, 16)))
  const headGroups = parse(head)
  if (rest === undefined) return headGroups
  const restGroups = parse(rest)
  return [...headGroups, ...new Array<number>(8 - headGroups.length - restGroups.length).fill(0), ...restGroups]
}

const ipv4OfGroups = (high: number, low: number): string =>
  [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".")

const isPrivateIpv6 = (address: string): boolean => {
  const groups = ipv6Groups(address.split("%")[0]!)
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number]
  const upperZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0
  // ::ffff:0:0/96 maps IPv4 addresses, and NAT64 (64:ff9b::/96) reaches the
  // IPv4 address in its last two groups.
  if (upperZero && g5 === 0xffff) return isPrivateIpv4(ipv4OfGroups(g6, g7))
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return isPrivateIpv4(ipv4OfGroups(g6, g7))
  // Only 2000::/3 is global unicast. Everything else is reserved, loopback,
  // unique local (fc00::/7), link-local (fe80::/10), multicast (ff00::/8) or
  // another special block, such as the IPv4-translated ::ffff:0:0:0/96.
  if ((g0 & 0xe000) !== 0x2000) return true
  // 6to4 (2002::/16) embeds an IPv4 address in the next two groups.
  if (g0 === 0x2002) return isPrivateIpv4(ipv4OfGroups(g1, g2))
  // The IETF protocol assignments 2001::/23, among them Teredo and
  // benchmarking, and documentation: 2001:db8::/32 and 3fff::/20.
  if (g0 === 0x2001 && (g1 < 0x200 || g1 === 0xdb8)) return true
  return g0 === 0x3fff && g1 < 0x1000
}

/**
 * Returns whether `address`, an IPv4 or IPv6 address in text form, is outside the
 * public unicast space: loopback, private, link-local, unique local,
 * multicast, reserved or for documentation. IPv4 addresses mapped into or
 * embedded in IPv6 are judged by their IPv4 address. Text that is not an
 * IP address returns false.
 */
export const isPrivateAddress = (address: string): boolean => {
  const family = net.isIP(address.split("%")[0]!)
  if (family === 4) return isPrivateIpv4(address)
  if (family === 6) return isPrivateIpv6(address)
  return false
}

/** A URL host without the brackets of an IPv6 address. */
const bareHost = (hostname: string) =>
  hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname

/**
 * Returns why a URL host is a private target without resolving it: an IP
 * address outside the public unicast space, or `localhost` and its
 * subdomains, which resolve to loopback (RFC 6761). Returns undefined for
 * every other host, which only the sender can judge once it resolves it.
 */
export const privateHostReason = (hostname: string): string | undefined => {
  // A fully qualified name ends with a dot, as in `localhost.`, and a resolver may accept more than one.
  const host = bareHost(hostname).toLowerCase().replace(/\.+$/, "")
  if (host === "localhost" || host.endsWith(".localhost")) return `${host} is a loopback host name`
  if (isPrivateAddress(host)) return `${host} is a loopback, private or reserved address`
  return undefined
}

/** Error code of a connection that `makePublicOnlyLookup` or the sender rejected. */
export const privateTargetCode = "EPRIVATETARGET"

/** Error of a host that is, or resolves only to, private addresses. */
export class PrivateTargetError extends Error {
  readonly code = privateTargetCode
  constructor(readonly host: string, readonly addresses: ReadonlyArray<string>) {
    super(
      addresses.length === 0 || (addresses.length === 1 && addresses[0] === host)
        ? `${host} is a loopback, private or reserved address, and deliveries go to public addresses only`
        : `${host} resolves only to loopback, private or reserved addresses (${addresses.join(", ")}), and deliveries go to public addresses only`
    )
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | Array<LookupAddress>,
  family?: number
) => void

/** The resolver of `makePublicOnlyLookup`: `dns.lookup` with `all: true`. */
export type ResolveAll = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: ReadonlyArray<LookupAddress>) => void
) => void

const systemResolveAll: ResolveAll = (hostname, options, callback) => dns.lookup(hostname, options, callback)

/**
 * Returns a `lookup` function for `http.request` and `net.connect` that
 * resolves with `resolveAll` and passes on only public addresses. A host
 * that resolves only to private addresses fails with `PrivateTargetError`.
 * Because the connection goes to an address this function returned, a DNS
 * answer that changes between the check and the connection cannot slip a
 * private address in.
 */
export const makePublicOnlyLookup = (resolveAll: ResolveAll = systemResolveAll) =>
(hostname: string, options: LookupOptions, callback: LookupCallback): void => {
  resolveAll(hostname, { family: options.family, hints: options.hints, all: true }, (error, addresses) => {
    if (error !== null) {
      callback(error, [])
      return
    }
    const allowed = addresses.filter((entry) => !isPrivateAddress(entry.address))
    if (allowed.length === 0) {
      callback(new PrivateTargetError(hostname, addresses.map((entry) => entry.address)), [])
      return
    }
    if (options.all === true) {
      callback(null, allowed)
      return
    }
    callback(null, allowed[0]!.address, allowed[0]!.family)
  })
}
