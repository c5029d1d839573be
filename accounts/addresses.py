"""Where a request comes from, for the security log, the lockout and the API's throttles.

Behind TRUSTED_PROXY_COUNT proxies (a TLS terminator, a load balancer) every request
arrives from the nearest proxy; the client's address is the one the outermost trusted proxy
appended to X-Forwarded-For. Anything further left in that header was written by the client
and is ignored. This is how the API's throttles read it too (REST framework's NUM_PROXIES)."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

LOCKOUT_IPV6_PREFIX = 64  # one end-user network: addresses within it are one caller


def client_address(request: HttpRequest | None) -> str | None:
    """The client's address as the outermost trusted proxy saw it (REMOTE_ADDR without one)."""
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not proxies or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    return hops[-min(proxies, len(hops))] or remote


def lockout_address(request: HttpRequest) -> str | None:
    """The address failed logins are counted by (AXES_CLIENT_IP_CALLABLE): the client's, or
    for IPv6 its /64 network, since any one line holds billions of addresses to rotate
    through. Written as the network's first address (a valid IP for the log's column)."""
    address = client_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    network = ipaddress.ip_network(f"{ip}/{LOCKOUT_IPV6_PREFIX}", strict=False)
    return str(network.network_address)
