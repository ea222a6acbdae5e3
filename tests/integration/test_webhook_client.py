"""What one webhook attempt does against real receivers (infrastructure/outbound/
webhook_client.py): HTTP servers on local ports, each answering in its own way."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks.webhooks import Webhook

from infrastructure.outbound.webhook_client import (
    AddressRefused,
    WebhookSender,
    check_destination,
    new_secret,
)

BODY = b'{"type": "ticket.opened", "data": {"number": 7}}'
Answer = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    client: tuple[str, int]  # the sender's address and port: one port, one connection


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)  # stop any waiting
    done: threading.Event = field(default_factory=threading.Event)  # an answer has ended

    def url(self, path: str = "/hook", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.server.server_address[1]}{path}"


@pytest.fixture
def receive() -> Iterator[Callable[..., Receiver]]:
    """Starts receivers that answer every request with the given function (over TLS when
    given a server context); all are shut down after the test."""
    started: list[Receiver] = []

    def start(answer: Answer, tls: ssl.SSLContext | None = None) -> Receiver:
        receiver: Receiver

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body, self.client_address))
                try:
                    answer(self)
                finally:
                    receiver.done.set()

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False  # a receiver still trickling does not hold the teardown

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the sender hanging up on a receiver is what some tests want

        receiver = Receiver(Server(("127.0.0.1", 0), Handler))
        if tls is not None:
            receiver.server.socket = tls.wrap_socket(receiver.server.socket, server_side=True)
        threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.released.set()
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture
def sender() -> Iterator[WebhookSender]:
    made = WebhookSender(allow_private=True)  # the receivers are on 127.0.0.1
    yield made
    made.close()


@pytest.fixture
def certificates(tmp_path, monkeypatch) -> Callable[[str], ssl.SSLContext]:
    """Makes a certificate authority the sender trusts (OpenSSL reads SSL_CERT_FILE as each
    connection loads the default certificates), and server contexts with certificates it
    signs for a given name."""
    now = datetime.now(UTC)

    def certificate(name: str, key, issuer: x509.Name, signer, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Atende test CA")])
    ca = certificate("Atende test CA", ca_key, ca_name, ca_key, ca=True)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))

    def server_context(name: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = certificate(name, key, ca_name, ca_key, ca=False)
        pem = tmp_path / f"{name}.pem"
        pem.write_bytes(
            leaf.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pem)
        return context

    return server_context


def reply(status: int, body: bytes = b"ok", **headers: str) -> Answer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def send(sender: WebhookSender, url: str, secrets: list[str] | None = None):
    return sender.send(
        url,
        message_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        timestamp=datetime.now(UTC),
        body=BODY,
        secrets=secrets or [new_secret()],
    )


def test_a_delivered_request_carries_the_three_headers_and_a_signature_the_receiver_verifies(
    receive, sender
):
    receiver = receive(reply(204, b""))
    secret = new_secret()
    now = datetime.now(UTC)

    url = receiver.url("/hook?source=atende")
    attempt = sender.send(url, message_id="msg_1", timestamp=now, body=BODY, secrets=[secret])

    assert attempt.delivered
    assert (attempt.status_code, attempt.error, attempt.permanent) == (204, None, False)
    assert attempt.latency_ms > 0
    [request] = receiver.received
    assert request.path == "/hook?source=atende"
    assert request.body == BODY
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == "msg_1"
    assert request.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert request.headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(request.body, request.headers) == {
        "type": "ticket.opened",
        "data": {"number": 7},
    }


def test_two_secrets_give_two_signatures_each_of_which_verifies(receive, sender):
    receiver = receive(reply(200))
    current, rotated_out = new_secret(), new_secret()

    assert send(sender, receiver.url(), [current, rotated_out]).delivered

    [request] = receiver.received
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    for secret, signature in zip([current, rotated_out], signatures, strict=True):
        alone = {**request.headers, "webhook-signature": signature}
        Webhook(secret).verify(request.body, alone)  # raises if it does not verify


def test_an_https_receiver_is_reached_at_the_pinned_address_and_checked_by_its_name(
    receive, sender, certificates
):
    receiver = receive(reply(200), tls=certificates("localhost"))

    attempt = send(sender, receiver.url(scheme="https", host="localhost"))

    assert attempt.delivered, attempt.error
    [request] = receiver.received
    assert request.headers["host"] == f"localhost:{receiver.server.server_address[1]}"


def test_an_https_receiver_whose_certificate_names_another_host_is_not_delivered(
    receive, sender, certificates
):
    receiver = receive(reply(200), tls=certificates("elsewhere.example"))

    attempt = send(sender, receiver.url(scheme="https", host="localhost"))

    assert attempt.status_code is None
    assert attempt.error.startswith("certificate not valid")
    assert receiver.received == []


def test_a_500_answer_is_not_delivered_and_keeps_its_status_and_body(receive, sender):
    receiver = receive(reply(500, b"database on fire"))

    attempt = send(sender, receiver.url())

    assert not attempt.delivered
    assert attempt.status_code == 500
    assert "500" in attempt.error and "\n" not in attempt.error
    assert attempt.body_excerpt == "database on fire"
    assert not attempt.permanent


def test_a_redirect_is_not_followed_and_fails_the_attempt_saying_so(receive, sender):
    elsewhere = receive(reply(200))
    receiver = receive(reply(302, Location=elsewhere.url("/stolen")))

    attempt = send(sender, receiver.url())

    assert not attempt.delivered
    assert attempt.status_code == 302
    assert attempt.error == "redirect not followed (302)"
    assert elsewhere.received == []


def test_a_receiver_that_sleeps_past_the_total_timeout_ends_the_attempt_with_a_timeout(
    receive, sender
):
    def sleep_then_answer(handler: BaseHTTPRequestHandler) -> None:
        receiver.released.wait(12)
        reply(200)(handler)

    receiver = receive(sleep_then_answer)

    attempt = send(sender, receiver.url())

    assert attempt.status_code is None
    assert "timed out" in attempt.error
    assert not attempt.permanent
    assert not receiver.done.is_set()  # the sender gave up before the receiver answered


def test_a_receiver_that_trickles_its_status_line_and_headers_cannot_hold_the_sender(receive):
    # A read timeout would not end this: a byte comes well within it, every time.
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        answer = b"HTTP/1.1 200 OK\r\n" + b"X-Padding: a\r\n" * 1000
        for byte in answer:
            if receiver.released.wait(0.05):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    receiver = receive(trickle)
    sender = WebhookSender(allow_private=True, total_timeout=1.0)

    attempt = send(sender, receiver.url())

    assert attempt.status_code is None
    assert attempt.error == "timed out after 1 s"
    assert not receiver.done.is_set()  # still trickling when the sender gave up
    sender.close()


def test_a_receiver_that_trickles_its_body_is_cut_off_and_its_status_still_counts(receive):
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        for _ in range(1000):
            if receiver.released.wait(0.05):
                return
            handler.wfile.write(b"x")
            handler.wfile.flush()

    receiver = receive(trickle)
    sender = WebhookSender(allow_private=True, total_timeout=1.0)

    attempt = send(sender, receiver.url())

    assert attempt.delivered  # the receiver said 200: the body is only an excerpt
    assert 0 < len(attempt.body_excerpt) < 1000
    assert set(attempt.body_excerpt) == {"x"}
    assert not receiver.done.is_set()
    sender.close()


def test_a_receiver_streaming_10_mb_is_read_no_further_than_the_limit(receive, sender):
    ten_mb = 10 * 1024 * 1024
    written = []

    def flood(handler: BaseHTTPRequestHandler) -> None:
        # A small send buffer, so that what the receiver managed to write is close to what
        # the sender took (the sender's receive buffer still holds some more).
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        handler.send_response(200)
        handler.send_header("Content-Length", str(ten_mb))
        handler.end_headers()
        sent = 0
        try:
            while sent < ten_mb:
                handler.wfile.write(b"y" * 65536)
                sent += 65536
        except OSError:
            pass  # the sender hung up
        written.append(sent)

    receiver = receive(flood)

    attempt = send(sender, receiver.url())

    assert attempt.delivered
    assert attempt.body_excerpt == "y" * 512
    assert receiver.done.wait(5)
    # 64 KiB read, plus what the two sockets' buffers held (about 256 KiB here): far from 10 MB.
    assert written[0] < 1024 * 1024


def test_a_closed_port_gives_no_status_and_says_the_connection_was_refused(sender):
    with socket.socket() as probe:  # a port nobody listens on once this is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    attempt = send(sender, f"http://127.0.0.1:{port}/hook")

    assert attempt.status_code is None
    assert attempt.error == "connection refused"
    assert not attempt.delivered and not attempt.permanent


def test_a_loopback_url_is_refused_as_permanent_and_never_contacted_when_private_is_refused(
    receive,
):
    receiver = receive(reply(200))
    sender = WebhookSender(allow_private=False)

    attempt = send(sender, receiver.url())

    assert attempt.status_code is None
    assert attempt.permanent
    assert attempt.error == "address 127.0.0.1 is loopback"
    assert receiver.received == []
    sender.close()


def test_a_host_that_does_not_resolve_fails_the_attempt_but_not_for_good(sender):
    attempt = send(sender, "http://nothing.invalid/hook")  # .invalid never resolves

    assert attempt.status_code is None
    assert "does not resolve" in attempt.error
    assert not attempt.permanent


def test_connections_are_kept_open_between_sends_to_the_same_receiver(receive, sender):
    receiver = receive(reply(200))

    for _ in range(3):
        assert send(sender, receiver.url()).delivered

    assert len({request.client for request in receiver.received}) == 1


def test_the_sender_can_be_used_from_several_threads_at_once(receive, sender):
    receiver = receive(reply(200))

    with ThreadPoolExecutor(4) as pool:
        attempts = list(pool.map(lambda _: send(sender, receiver.url()), range(20)))

    assert all(attempt.delivered for attempt in attempts)
    assert len(receiver.received) == 20


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://169.254.169.254/",
        "http://[::ffff:127.0.0.1]/",
        "http://100.64.0.1/",
        "http://localhost/",
    ],
)
def test_check_destination_refuses_a_private_address(url):
    with pytest.raises(AddressRefused) as refused:
        check_destination(url, allow_private=False)
    assert "address" in str(refused.value)


@pytest.mark.parametrize(
    "url",
    ["ftp://x/", "not a url", "http:///no-host", "http://x:99999/", "http://nothing.invalid/"],
)
def test_check_destination_refuses_what_is_not_an_http_url_to_a_host_that_resolves(url):
    with pytest.raises(ValueError) as refused:
        check_destination(url, allow_private=True)
    assert not isinstance(refused.value, AddressRefused)


def test_check_destination_accepts_a_public_ip_literal_without_dns():
    check_destination("http://93.184.216.34/", allow_private=False)
    check_destination("https://[::ffff:93.184.216.34]:8443/hook", allow_private=False)


def test_check_destination_accepts_a_private_address_when_allowed():
    check_destination("http://127.0.0.1:8080/hook", allow_private=True)


def test_a_new_secret_is_32_random_bytes_in_the_standard_webhooks_form():
    secret, other = new_secret(), new_secret()

    assert secret.startswith("whsec_") and secret != other
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    Webhook(secret)  # accepted as a signing secret


def test_an_attempt_measures_its_latency(receive, sender):
    def slowly(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(0.05)
        reply(200)(handler)

    attempt = send(sender, receive(slowly).url())

    assert attempt.latency_ms >= 50
