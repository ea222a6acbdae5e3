"""One webhook request (issue 22): signed per Standard Webhooks, sent to an address checked and
pinned, within hard limits of time and size. webhook_dispatch.py decides what to send and when
to retry; this module makes one attempt and says how it went, never raising for the network.

The URL comes from a subscriber, so the request must not become a way into our own network
(SSRF): the host is resolved here, every address it resolves to is checked, and the connection
goes to the checked address itself. Were urllib3 left to resolve the name again, a DNS answer
changed in between (DNS rebinding) could still reach a private address.
"""

from __future__ import annotations

import base64
import heapq
import ipaddress
import itertools
import os
import socket
import ssl
import threading
import time
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException, RemoteDisconnected
from math import floor
from secrets import token_bytes
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook
from urllib3 import HTTPConnectionPool, HTTPResponse, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import Timeout
from urllib3.util.ssl_match_hostname import CertificateError

EXCERPT_CHARS = 512
CHUNK_BYTES = 8192
POOL_SIZE = 8  # connections kept open per address: the dispatcher sends 4 at once per subscription
POOLS_KEPT = 64  # addresses with pools kept; the least recently used is closed beyond that
NETWORK_ERRORS = (HTTPError, HTTPException, OSError)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class WebhookAttempt:
    status_code: int | None  # the receiver's HTTP status, None if it gave none
    latency_ms: float  # from the start of the send to the end of reading the body, or failure
    error: str | None  # one line; None on 2xx
    body_excerpt: str  # the start of the response body, as text
    permanent: bool  # retrying cannot help: the address is refused

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class AddressRefused(ValueError):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lower case, without brackets: what TLS checks the certificate against
    port: int
    authority: str  # the Host header: host and port as the URL writes them
    path: str  # path and query
    addresses: tuple[IPAddress, ...]  # in getaddrinfo's order of preference


def _target(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the URL must be http:// or https:// with a host")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    authority = parts.netloc.rpartition("@")[2]
    return _Target(parts.scheme, host, port, authority, path, _resolve(host, port))


def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)  # a literal: nothing to resolve
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise ValueError(f"host {host} does not resolve ({error})") from None
    return tuple(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))


def _refusal(address: IPAddress) -> str | None:
    """Why webhooks may not reach the address, or None. A mapped IPv6 address
    (::ffff:10.0.0.1) reaches the IPv4 one, so that is what is judged."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    ip = mapped or address
    # The narrower kinds first, since most of them are also is_private.
    for kind in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    # Beyond the spec's list: e.g. 100.64.0.0/10 (carrier-grade NAT, used inside some clouds)
    # is neither private nor reserved, yet not reachable from the internet either.
    return None if ip.is_global else "not public"


def _refuse_private(target: _Target) -> None:
    for address in target.addresses:  # any one: the resolver may hand out either
        why = _refusal(address)
        if why:
            named = "" if target.host == str(address) else f" ({target.host})"
            raise AddressRefused(f"address {address}{named} is {why}")


def check_destination(url: str, allow_private: bool) -> None:
    """Raise ValueError when webhooks cannot be sent to the URL (AddressRefused when its host
    is or resolves to an address refused while allow_private is False)."""
    target = _target(url)
    if not allow_private:
        _refuse_private(target)


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes them: whsec_ and 32 random bytes."""
    return "whsec_" + base64.b64encode(token_bytes(32)).decode()


# The deadline of the send under way in this thread, for the connection to find (below).
_here = threading.local()


class _Deadline:
    """Cuts the connection of one send when its total time is up. A read timeout bounds each
    wait for bytes, not the whole answer: a receiver trickling a byte at a time, in its status
    line, headers or body, would hold the sender as long as it liked. Shutting the socket down
    from the watchdog's thread wakes the blocked read at once, wherever it is."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._finished = False
        _watchdog().watch(self, time.monotonic() + seconds)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                _cut(sock)

    def expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            if self._sock is not None:
                _cut(self._sock)

    def finish(self) -> None:
        """After this the socket is never cut: it may go on to serve another send."""
        with self._lock:
            self._finished = True
            self._sock = None


class _Watchdog:
    """One thread that expires every send's deadline when its time comes. A timer thread
    per send would do the same, but starting a thread costs about as much as a local
    send itself, and a busy outbox sends hundreds a second."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Deadline]] = []
        self._added = itertools.count()
        self._changed = threading.Condition()
        threading.Thread(target=self._run, name="webhook-deadlines", daemon=True).start()

    def watch(self, deadline: _Deadline, at: float) -> None:
        with self._changed:
            heapq.heappush(self._due, (at, next(self._added), deadline))
            if self._due[0][2] is deadline:  # sooner than the one waited for
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                while not self._due or self._due[0][0] > now:
                    self._changed.wait(None if not self._due else self._due[0][0] - now)
                    now = time.monotonic()
                _, _, deadline = heapq.heappop(self._due)
            deadline.expire()  # a finished send's deadline does nothing


_watchdogs: dict[int, _Watchdog] = {}  # by process: a forked child has not the thread
_watchdog_lock = threading.Lock()


def _watchdog() -> _Watchdog:
    with _watchdog_lock:
        pid = os.getpid()
        if pid not in _watchdogs:
            _watchdogs.clear()
            _watchdogs[pid] = _Watchdog()
        return _watchdogs[pid]


def _cut(sock: socket.socket) -> None:
    # The plain socket's shutdown, under TLS too: SSLSocket.shutdown would also drop its TLS
    # state under the thread still reading from it.
    with suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watched:
    """A connection that hands its socket to the send's deadline as the answer is awaited
    (only then is the socket sure to exist: a pooled connection opens it lazily)."""

    sock: socket.socket | None

    def getresponse(self) -> HTTPResponse:
        deadline = getattr(_here, "deadline", None)
        if deadline is not None and self.sock is not None:
            deadline.watch(self.sock)
        response: HTTPResponse = super().getresponse()  # type: ignore[misc]
        if deadline is not None and deadline.expired:
            # Cut while the status line and headers came in: http.client takes the end of the
            # stream for the end of the headers, so a cut 200 would look like an answer.
            raise TimeoutError("the total timeout ended the answer")
        return response


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class WebhookSender:
    """Sends webhook requests, keeping connections to each receiver open between them.
    Safe to use from several threads."""

    def __init__(
        self,
        *,
        allow_private: bool,
        connect_timeout: float = 5.0,
        total_timeout: float = 10.0,
        max_response_bytes: int = 64 * 1024,
        user_agent: str = "Atende-Webhooks/1",
    ):
        self.allow_private = allow_private
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_response_bytes = max_response_bytes
        self.user_agent = user_agent
        # The read timeout only backs up the deadline, which ends the whole send.
        self._timeout = Timeout(connect=connect_timeout, read=total_timeout)
        self._pools: OrderedDict[tuple[str, str, int, str], HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def send(
        self, url: str, *, message_id: str, timestamp: datetime, body: bytes, secrets: list[str]
    ) -> WebhookAttempt:
        """POST body to url, signed with each of secrets (the current one first; a second may
        be a rotated-out one still in its grace period, so receivers can switch at leisure)."""
        if not secrets:
            raise ValueError("a webhook is signed with at least one secret")
        started = time.perf_counter()
        deadline = _Deadline(self.total_timeout)  # from the start: DNS counts too
        _here.deadline = deadline
        try:
            status, error, excerpt, permanent = self._attempt(
                url, message_id, timestamp, body, secrets, deadline
            )
        finally:
            deadline.finish()
            _here.deadline = None
        latency_ms = (time.perf_counter() - started) * 1000
        return WebhookAttempt(status, latency_ms, error, excerpt, permanent)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            pool.close()

    def _attempt(
        self,
        url: str,
        message_id: str,
        timestamp: datetime,
        body: bytes,
        secrets: list[str],
        deadline: _Deadline,
    ) -> tuple[int | None, str | None, str, bool]:
        try:
            target = _target(url)
            if not self.allow_private:
                _refuse_private(target)
        except AddressRefused as refused:
            return None, str(refused), "", True
        except ValueError as invalid:  # DNS may recover: not permanent
            return None, str(invalid), "", False
        headers = self._headers(target, message_id, timestamp, body, secrets)
        try:
            response = self._post(target, headers, body, deadline)
        except NETWORK_ERRORS as error:
            return None, self._describe(error, deadline), "", False
        excerpt = self._read(response, deadline)
        status = response.status
        if 200 <= status < 300:
            return status, None, excerpt, False
        if 300 <= status < 400:
            return status, f"redirect not followed ({status})", excerpt, False
        return status, f"HTTP {status} {response.reason or ''}"[:200].strip(), excerpt, False

    def _headers(
        self, target: _Target, message_id: str, timestamp: datetime, body: bytes, secrets: list[str]
    ) -> dict[str, str]:
        if timestamp.tzinfo is None:  # as the standardwebhooks library reads a naive one
            timestamp = timestamp.replace(tzinfo=UTC)
        signatures = [Webhook(secret).sign(message_id, timestamp, body) for secret in secrets]
        return {
            "Host": target.authority,  # the connection goes to an IP; the receiver wants its name
            "Content-Type": "application/json",
            "User-Agent": self.user_agent,
            # A compressed answer could inflate past the size limit: ask for none.
            "Accept-Encoding": "identity",
            "webhook-id": message_id,
            "webhook-timestamp": str(floor(timestamp.timestamp())),
            "webhook-signature": " ".join(signatures),
        }

    def _post(
        self, target: _Target, headers: dict[str, str], body: bytes, deadline: _Deadline
    ) -> HTTPResponse:
        """Try the addresses in order while connecting to one fails at once (e.g. an IPv6 one
        on a host without IPv6); a timeout is not retried, it has used the time up."""
        failure: NewConnectionError | None = None
        for address in target.addresses:
            try:
                response = self._pool(target, str(address)).urlopen(
                    "POST", target.path, body=body, headers=headers,
                    retries=False, redirect=False,  # one attempt; a redirect could lead anywhere
                    preload_content=False, decode_content=False,  # read within limits, below
                    timeout=self._timeout,
                )  # fmt: skip
                return response  # type: ignore[no-any-return]
            except NewConnectionError as error:
                failure = error
                if deadline.expired:
                    break
        assert failure is not None  # there is always at least one address
        raise failure

    def _pool(self, target: _Target, ip: str) -> HTTPConnectionPool:
        # The host is in the key as well: it is what TLS verifies and what Host names.
        key = (target.scheme, ip, target.port, target.host)
        with self._lock:
            pool = self._pools.pop(key, None) or self._new_pool(target, ip)
            self._pools[key] = pool  # the most recently used last
            if len(self._pools) > POOLS_KEPT:
                self._pools.popitem(last=False)[1].close()  # connections in use close on return
        return pool

    def _new_pool(self, target: _Target, ip: str) -> HTTPConnectionPool:
        common: dict[str, Any] = {"maxsize": POOL_SIZE, "block": False, "retries": False}
        if target.scheme == "http":
            return _HTTPPool(ip, target.port, timeout=self._timeout, **common)
        return _HTTPSPool(
            ip, target.port, timeout=self._timeout, server_hostname=target.host,
            assert_hostname=target.host, cert_reqs="CERT_REQUIRED", **common,
        )  # fmt: skip

    def _read(self, response: HTTPResponse, deadline: _Deadline) -> str:
        """At most max_response_bytes of the body: a receiver sending gigabytes must not make
        us read them. The status is the answer; the body only gives the excerpt."""
        got = bytearray()
        ended = False
        try:
            while len(got) < self.max_response_bytes:
                chunk = response.read(min(CHUNK_BYTES, self.max_response_bytes - len(got)))
                if not chunk:
                    ended = True
                    break
                got += chunk
        except NETWORK_ERRORS:
            pass  # cut short (by the deadline, or the receiver): the excerpt is shorter
        if not ended or deadline.expired:
            response.close()  # unread bytes remain: the connection cannot carry another request
        response.release_conn()  # back to the pool (a closed one reconnects when next used)
        return got[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]

    def _describe(self, error: BaseException, deadline: _Deadline) -> str:
        """One line saying what went wrong, in the words of the deepest known cause."""
        if deadline.expired:
            return f"timed out after {self.total_timeout:g} s"
        for cause in _causes(error):
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused"
            if isinstance(cause, ConnectionResetError):
                return "connection reset"
            if isinstance(cause, RemoteDisconnected):
                return "connection closed without an answer"
            if isinstance(cause, ssl.SSLCertVerificationError):
                return f"certificate not valid: {cause.verify_message}"
            if isinstance(cause, CertificateError):  # urllib3's own check of the name
                return f"certificate not valid: {cause}"
            if isinstance(cause, ssl.SSLError):
                return f"TLS failed: {cause.reason or cause}"
        if isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError):
            return f"connect timed out after {self.connect_timeout:g} s"
        if isinstance(error, Urllib3Timeout | TimeoutError):
            return f"timed out after {self.total_timeout:g} s"
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        return detail[:200]


def _causes(error: BaseException | None) -> list[BaseException]:
    """The error and what it wraps: urllib3 chains the OSError (or puts it in its args)."""
    found: list[BaseException] = []
    while error is not None and error not in found:
        found.append(error)
        wrapped = [a for a in error.args if isinstance(a, BaseException)]
        error = error.__cause__ or error.__context__ or (wrapped[0] if wrapped else None)
    return found
