"""Fetching what a user typed as an address, without letting it reach inside our network
(server-side request forgery): only http(s), only public addresses, the connection made to
the very address that was checked (no second lookup a name could answer differently), every
redirect checked again, and bounded in size and time."""

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.utils.translation import gettext as _

MAX_REDIRECTS = 5
CHUNK = 64 * 1024


class Refused(Exception):
    """Not fetched, and not to be tried again: the reason, for the user."""


class Unreachable(Exception):
    """Not fetched this time (down, slow, a server error): worth another try later."""


@dataclass
class Fetched:
    status: int
    url: str
    content_type: str
    body: bytes
    truncated: bool


def checked_address(host: str, port: int, trusted: frozenset[str] = frozenset()) -> str:
    """The address to connect to for `host`: every address it resolves to must be public
    (a name with one private address among public ones is refused), unless "host:port" is
    in `trusted` (tests and development only)."""
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise Unreachable(_("The host name could not be found.")) from error
    addresses = [info[4][0] for info in found]
    if f"{host}:{port}" not in trusted:
        for address in addresses:
            if not is_public(ipaddress.ip_address(address.split("%")[0])):
                raise Refused(_("The link points to a private or local network: not fetched."))
    return addresses[0]


NAT64 = ipaddress.ip_network("64:ff9b::/96")
SITE_LOCAL = ipaddress.ip_network("fec0::/10")


def is_public(ip) -> bool:
    """A global address, and for IPv6 one that does not carry an IPv4 address inside
    (mapped, 6to4, NAT64, the old compatible form) that is not: those can lead inside."""
    if not ip.is_global:
        return False
    if ip.version == 4:
        return True
    if ip in SITE_LOCAL:
        return False
    embedded = ip.ipv4_mapped or ip.sixtofour
    if embedded is None and (ip in NAT64 or int(ip) >> 32 == 0):
        embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return embedded is None or embedded.is_global


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = self.raw = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        self.raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(self.raw, server_hostname=self.host)


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    trusted: frozenset[str] = frozenset(),
    user_agent: str = "Defensores-Archive/1",
) -> Fetched:
    """GET `url` (following up to five redirects, each checked), reading at most `max_bytes`
    of its body within `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        parts, port = _parts(url)
        address = checked_address(parts.hostname, port, trusted)
        kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        left = max(deadline - time.monotonic(), 0.1)
        connection = kind(parts.hostname, port, address, left)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        watchdog = _watchdog(connection, deadline)
        try:
            connection.request("GET", path, headers={"User-Agent": user_agent, "Accept": "*/*"})
            response = connection.getresponse()
            location = response.getheader("Location")
            if 300 <= response.status < 400 and location:
                connection.close()
                url = urljoin(url, location)
                continue
            body, truncated = _read(response, max_bytes, deadline)
            return Fetched(
                status=response.status,
                url=url,
                content_type=(response.getheader("Content-Type") or "")[:200],
                body=body,
                truncated=truncated,
            )
        except (OSError, http.client.HTTPException, ValueError) as error:
            if time.monotonic() >= deadline:
                raise Unreachable(_("The page took too long to arrive.")) from error
            raise Unreachable(str(error)[:300] or error.__class__.__name__) from error
        finally:
            watchdog.cancel()
            connection.close()
    raise Refused(_("Too many redirects: not fetched."))


def _parts(url: str):
    """The address's parts and port; Refused for anything but a well-formed http(s) one."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port out of range, a broken IPv6 literal
        raise Refused(_("Not a valid address: not fetched.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(_("Only http:// and https:// links are fetched."))
    return parts, port


def _watchdog(connection, deadline: float) -> threading.Timer:
    """Close the connection at the deadline, whatever it is waiting for (a server that
    sends a byte now and then must not hold us past it)."""

    def close():
        # The raw socket: http.client lets go of connection.sock once a response is open.
        sock = getattr(connection, "raw", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(deadline - time.monotonic(), 0), close)
    timer.daemon = True
    timer.start()
    return timer


def _read(response, max_bytes: int, deadline: float) -> tuple[bytes, bool]:
    chunks, size = [], 0
    while size <= max_bytes:
        if time.monotonic() > deadline:
            raise Unreachable(_("The page took too long to arrive."))
        chunk = response.read(min(CHUNK, max_bytes + 1 - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:max_bytes], True


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    trusted_private: bool = False,
) -> int:
    """POST `body` to `url` over a connection to the address that was checked (no second
    lookup); no redirect is followed. Returns the HTTP status. Raises Refused or
    Unreachable. `trusted_private`: any address may be reached (development only)."""
    parts, port = _parts(url)
    trusted = frozenset({f"{parts.hostname}:{port}"}) if trusted_private else frozenset()
    address = checked_address(parts.hostname, port, trusted)
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(parts.hostname, port, address, timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    watchdog = _watchdog(connection, time.monotonic() + timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # an answer's body is not needed: a little, then close
        return response.status
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise Unreachable(str(error)[:300] or error.__class__.__name__) from error
    finally:
        watchdog.cancel()
        connection.close()
