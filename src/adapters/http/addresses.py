"""The addresses this site never connects to on a provider's behalf, in one table with the
source of each row; `FetchPolicy` (adapters.http.client) denies them unless the operator
allows a network by name.

The rows follow IANA's IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its
updates), plus the multicast and reserved space of the address-space registries. Every row
is denied, "globally reachable" or not (AS112, AMT, the anycast addresses of 192.0.0.0/24): no
identity provider lives there. The rows do not depend on Python's `is_global`, whose tables
differ from one Python release to the next. Rows that carry an IPv4 address (IPv4-mapped,
NAT64's well-known prefix, 6to4) are judged by that IPv4 address instead.
"""

import ipaddress
from dataclasses import dataclass

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

IPV4_REGISTRY = "IANA IPv4 Special-Purpose Address Registry"
IPV6_REGISTRY = "IANA IPv6 Special-Purpose Address Registry"
IPV4_MULTICAST = "IANA IPv4 Multicast Address Space Registry"
IPV6_SPACE = "IANA Internet Protocol Version 6 Address Space"


@dataclass(frozen=True)
class CarriedIpv4:
    """Where an IPv6 address of a row carries the IPv4 address it leads to."""

    shift: int  # how far right the IPv4 address's 32 bits are moved

    def unwrap(self, address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
        return ipaddress.IPv4Address((int(address) >> self.shift) & 0xFFFFFFFF)


LAST_32_BITS = CarriedIpv4(shift=0)  # ::ffff:a.b.c.d, 64:ff9b::a.b.c.d (RFC 6052 §2.2, /96)
SIXTOFOUR = CarriedIpv4(shift=80)  # 2002:AABB:CCDD::/48 (RFC 3056 §2)


@dataclass(frozen=True)
class SpecialRange:
    network: IpNetwork
    name: str
    source: str
    # Judged by the IPv4 address inside, not denied whole.
    carries: CarriedIpv4 | None = None

    def carried(self, address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
        assert self.carries is not None
        return self.carries.unwrap(address)

    def wrap(self, inner: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
        """The address of this row that carries `inner` (the inverse of `carried`)."""
        assert self.carries is not None
        return ipaddress.IPv6Address(
            int(self.network.network_address) | int(inner) << self.carries.shift
        )


def _row(network: str, name: str, source: str, carries: CarriedIpv4 | None = None) -> SpecialRange:
    return SpecialRange(ipaddress.ip_network(network), name, source, carries)


SPECIAL_PURPOSE: tuple[SpecialRange, ...] = (
    # IPv4 Special-Purpose Address Registry.
    _row("0.0.0.0/8", '"This network"', f"{IPV4_REGISTRY}, RFC 791 §3.2"),
    _row("10.0.0.0/8", "Private-Use", f"{IPV4_REGISTRY}, RFC 1918"),
    _row("100.64.0.0/10", "Shared Address Space", f"{IPV4_REGISTRY}, RFC 6598"),
    _row("127.0.0.0/8", "Loopback", f"{IPV4_REGISTRY}, RFC 1122 §3.2.1.3"),
    _row("169.254.0.0/16", "Link Local", f"{IPV4_REGISTRY}, RFC 3927"),
    _row("172.16.0.0/12", "Private-Use", f"{IPV4_REGISTRY}, RFC 1918"),
    # Holds 192.0.0.0/29 (RFC 7335), 192.0.0.8 (RFC 7600), 192.0.0.9 (RFC 7723),
    # 192.0.0.10 (RFC 8155), 192.0.0.170-171 (RFC 8880, RFC 7050).
    _row("192.0.0.0/24", "IETF Protocol Assignments", f"{IPV4_REGISTRY}, RFC 6890 §2.1"),
    _row("192.0.2.0/24", "Documentation (TEST-NET-1)", f"{IPV4_REGISTRY}, RFC 5737"),
    _row("192.31.196.0/24", "AS112-v4", f"{IPV4_REGISTRY}, RFC 7535"),
    _row("192.52.193.0/24", "AMT", f"{IPV4_REGISTRY}, RFC 7450"),
    _row("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", f"{IPV4_REGISTRY}, RFC 7526"),
    _row("192.168.0.0/16", "Private-Use", f"{IPV4_REGISTRY}, RFC 1918"),
    _row("192.175.48.0/24", "Direct Delegation AS112 Service", f"{IPV4_REGISTRY}, RFC 7534"),
    _row("198.18.0.0/15", "Benchmarking", f"{IPV4_REGISTRY}, RFC 2544"),
    _row("198.51.100.0/24", "Documentation (TEST-NET-2)", f"{IPV4_REGISTRY}, RFC 5737"),
    _row("203.0.113.0/24", "Documentation (TEST-NET-3)", f"{IPV4_REGISTRY}, RFC 5737"),
    _row("240.0.0.0/4", "Reserved", f"{IPV4_REGISTRY}, RFC 1112 §4"),
    _row("255.255.255.255/32", "Limited Broadcast", f"{IPV4_REGISTRY}, RFC 8190, RFC 919 §7"),
    # Not special-purpose, but never a provider.
    _row("224.0.0.0/4", "Multicast", f"{IPV4_MULTICAST}, RFC 5771"),
    # IPv6 Special-Purpose Address Registry.
    _row("::1/128", "Loopback Address", f"{IPV6_REGISTRY}, RFC 4291"),
    _row("::/128", "Unspecified Address", f"{IPV6_REGISTRY}, RFC 4291"),
    _row("::ffff:0:0/96", "IPv4-mapped Address", f"{IPV6_REGISTRY}, RFC 4291", LAST_32_BITS),
    _row("64:ff9b::/96", "IPv4-IPv6 Translat.", f"{IPV6_REGISTRY}, RFC 6052", LAST_32_BITS),
    # Local-use NAT64: translates into whatever the operator's network holds.
    _row("64:ff9b:1::/48", "IPv4-IPv6 Translat. (local use)", f"{IPV6_REGISTRY}, RFC 8215"),
    _row("100::/64", "Discard-Only Address Block", f"{IPV6_REGISTRY}, RFC 6666"),
    _row("100:0:0:1::/64", "Dummy IPv6 Prefix", f"{IPV6_REGISTRY}, RFC 9780"),
    # Holds Teredo 2001::/32 (RFC 4380), the anycast 2001:1::1-3 (RFC 7723, 8155, 9665),
    # Benchmarking 2001:2::/48 (RFC 5180), AMT 2001:3::/32 (RFC 7450), AS112-v6
    # 2001:4:112::/48 (RFC 7535), ORCHID 2001:10::/28 (RFC 4843), ORCHIDv2 2001:20::/28
    # (RFC 7343) and Drone Remote ID 2001:30::/28 (RFC 9374).
    _row("2001::/23", "IETF Protocol Assignments", f"{IPV6_REGISTRY}, RFC 2928"),
    _row("2001:db8::/32", "Documentation", f"{IPV6_REGISTRY}, RFC 3849"),
    _row("2002::/16", "6to4", f"{IPV6_REGISTRY}, RFC 3056", SIXTOFOUR),
    _row("2620:4f:8000::/48", "Direct Delegation AS112 Service", f"{IPV6_REGISTRY}, RFC 7534"),
    _row("3fff::/20", "Documentation", f"{IPV6_REGISTRY}, RFC 9637"),
    _row("5f00::/16", "Segment Routing (SRv6) SIDs", f"{IPV6_REGISTRY}, RFC 9602"),
    _row("fc00::/7", "Unique-Local", f"{IPV6_REGISTRY}, RFC 4193, RFC 8190"),
    _row("fe80::/10", "Link-Local Unicast", f"{IPV6_REGISTRY}, RFC 4291"),
    # IPv6 Address Space registry: deprecated site-local, multicast, and everything outside
    # 2000::/3, the only Global Unicast space (IPv4-compatible ::/96 included, RFC 4291
    # §2.5.5.1). The carrying rows above come first.
    _row("fec0::/10", "Site-Local (deprecated)", f"{IPV6_SPACE}, RFC 3879"),
    _row("ff00::/8", "Multicast", f"{IPV6_SPACE}, RFC 4291"),
    _row("::/3", "Reserved by IETF, not Global Unicast", f"{IPV6_SPACE}, RFC 4291 §2.4"),
    _row("4000::/2", "Reserved by IETF, not Global Unicast", f"{IPV6_SPACE}, RFC 4291 §2.4"),
    _row("8000::/1", "Reserved by IETF, not Global Unicast", f"{IPV6_SPACE}, RFC 4291 §2.4"),
)
CARRYING = tuple(row for row in SPECIAL_PURPOSE if row.carries is not None)
DENIED = tuple(row for row in SPECIAL_PURPOSE if row.carries is None)


def reached_address(address: IpAddress) -> IpAddress:
    """The address a connection to `address` really reaches: the IPv4 address inside an
    IPv4-mapped, NAT64 (well-known prefix) or 6to4 address; the address itself otherwise."""
    if isinstance(address, ipaddress.IPv6Address):
        for row in CARRYING:
            if address in row.network:
                return row.carried(address)
    return address


def is_special(address: IpAddress) -> bool:
    """Whether `address` is in a denied row (without looking inside carrying ones)."""
    return any(address in row.network for row in DENIED)
