"""A scripted fake of the Anthropic Messages API for driving the real CLI.

Standard library only. The server binds 127.0.0.1 and nothing else. It
answers ``POST .../v1/messages`` (SSE when the body says ``"stream": true``,
plain JSON otherwise) from a script, and ``{}`` with 200 to any other path or
method, so the CLI never stalls on a call we did not foresee.

Scripts
    A scenario is a list of turns. Each turn is a dict with optional
    ``text`` and either ``tool_use`` (one ``{"name", "input"}``) or
    ``tool_uses`` (a list of them). ``{{cwd}}`` in any string is replaced
    with the session's working directory, taken from the "Primary working
    directory:" line the CLI sends.

    The turn played is the number of assistant messages already in the
    request. The server thus keeps no per-session state: the script moves on
    exactly when the CLI comes back with the previous turn's tool results,
    and concurrent sessions cannot disturb each other. Once the turns run
    out, the answer is a short closing text.

Routing
    A session whose ``ANTHROPIC_BASE_URL`` is ``http://127.0.0.1:PORT/s/NAME``
    sends ``/s/NAME/v1/messages?beta=true`` and plays scenario ``NAME``.
    Requests whose ``tools`` list has none of Bash/Edit/Write/Read are side
    requests (titles, summaries): they get a short text and do not consume
    the script.

Every request is appended to a JSONL log: time, method, path, scenario, kind
(``main``/``side``/``other``), turn, the parsed body and what was answered.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
MAIN_TOOLS = frozenset({"Bash", "Edit", "Write", "Read"})
SIDE_TEXT = "ok"
FINAL_TEXT = "Scripted conversation finished."

Turn = Mapping[str, Any]
Block = dict[str, Any]

NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")  # a scenario (session) name
_ROUTE_RE = re.compile(rf"^/s/(?P<name>{NAME_RE.pattern})(?P<rest>/.*)?$")
_CWD_RE = re.compile(r"Primary working directory:\s*(\S+)")
# headers worth keeping in the log; never the API key
_LOG_HEADERS = ("user-agent", "x-app", "x-claude-code-session-id", "anthropic-version")


def route(path: str) -> tuple[str | None, str]:
    """Split ``/s/NAME/v1/messages?x`` into ``("NAME", "/v1/messages")``."""
    bare = path.split("?", 1)[0]
    m = _ROUTE_RE.match(bare)
    if not m:
        return None, bare
    return m["name"], m["rest"] or "/"


def strings(value: Any) -> Iterator[str]:
    """Every string leaf of a JSON value, depth first."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def find_cwd(body: Mapping[str, Any]) -> str | None:
    """The session's working directory as the CLI states it.

    2.1.330 puts it in a ``role: "system"`` message, older versions in the
    system prompt, so both are searched.
    """
    for s in strings([body.get("system"), body.get("messages")]):
        m = _CWD_RE.search(s)
        if m:
            return m.group(1)
    return None


def substitute(value: Any, ctx: Mapping[str, str]) -> Any:
    """Replace ``{{key}}`` placeholders in every string of ``value``."""
    if isinstance(value, str):
        for k, v in ctx.items():
            value = value.replace("{{" + k + "}}", v)
        return value
    if isinstance(value, Mapping):
        return {k: substitute(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, ctx) for v in value]
    return value


def is_main(body: Mapping[str, Any]) -> bool:
    """True for requests of the main agent loop (they carry the file tools)."""
    names = {t.get("name") for t in body.get("tools") or [] if isinstance(t, Mapping)}
    return bool(names & MAIN_TOOLS)


def turn_blocks(turn: Turn, ctx: Mapping[str, str]) -> tuple[list[Block], str]:
    """Content blocks and stop reason for one scripted turn."""
    blocks: list[Block] = []
    if turn.get("text"):
        blocks.append({"type": "text", "text": substitute(turn["text"], ctx)})
    uses = ([turn["tool_use"]] if turn.get("tool_use") else []) + list(turn.get("tool_uses") or [])
    for use in uses:
        blocks.append(
            {
                "type": "tool_use",
                "id": "toolu_fake_" + uuid.uuid4().hex[:16],
                "name": use["name"],
                "input": substitute(dict(use.get("input") or {}), ctx),
            }
        )
    if not blocks:  # the API never sends an empty message; neither do we
        blocks.append({"type": "text", "text": FINAL_TEXT})
    return blocks, "tool_use" if uses else "end_turn"


class FakeModel:
    """The fake API server; ``start()`` runs it in a daemon thread.

    ``scenarios`` maps a session name to its turns. ``default_cwd`` is used
    for ``{{cwd}}`` when a request does not state its working directory.
    """

    def __init__(
        self,
        scenarios: Mapping[str, Sequence[Turn]],
        log_path: Path | str,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        default_cwd: str | None = None,
    ) -> None:
        if host != LOOPBACK:
            # the whole point is that nothing leaves the machine
            raise ValueError(f"fake model binds {LOOPBACK} only, not {host!r}")
        self.scenarios: dict[str, list[Turn]] = {k: list(v) for k, v in scenarios.items()}
        self.log_path = Path(log_path)
        self.default_cwd = default_cwd
        self._log_lock = threading.Lock()
        self._httpd = http.server.ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound TCP port (useful with ``port=0``)."""
        return int(self._httpd.server_address[1])

    def base_url(self, name: str) -> str:
        """``ANTHROPIC_BASE_URL`` that routes a session to scenario ``name``."""
        return f"http://{LOOPBACK}:{self.port}/s/{name}"

    def start(self) -> int:
        """Serve in a background thread; returns the port."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="fake-model", daemon=True
        )
        self._thread.start()
        return self.port

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeModel:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self, record: Mapping[str, Any]) -> None:
        """Append one JSON line; a lock keeps concurrent lines whole."""
        line = json.dumps({"ts": time.time(), **record}, ensure_ascii=False) + "\n"
        with self._log_lock, self.log_path.open("a", encoding="utf-8") as f:
            f.write(line)

    def plan(
        self, name: str | None, body: Mapping[str, Any]
    ) -> tuple[list[Block], str, dict[str, Any]]:
        """Decide the answer to a messages request: blocks, stop reason, log info."""
        info: dict[str, Any] = {"scenario": name}
        if not is_main(body):
            info["kind"] = "side"
            return [{"type": "text", "text": SIDE_TEXT}], "end_turn", info
        info["kind"] = "main"
        messages = body.get("messages") or []
        turn = sum(1 for m in messages if isinstance(m, Mapping) and m.get("role") == "assistant")
        info["turn"] = turn
        turns = self.scenarios[name] if name is not None else []
        if turn >= len(turns):
            info["exhausted"] = True
            return [{"type": "text", "text": FINAL_TEXT}], "end_turn", info
        cwd = find_cwd(body) or self.default_cwd or ""
        blocks, stop = turn_blocks(turns[turn], {"cwd": cwd})
        return blocks, stop, info


def _make_handler(model: FakeModel) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "coord-fake-model/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the JSONL log is the record; keep pytest output clean

        def _headers(self) -> dict[str, str]:
            return {k: v for k in _LOG_HEADERS if (v := self.headers.get(k)) is not None}

        def _send_json(self, code: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", "req_fake_" + uuid.uuid4().hex[:12])
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _read_body(self) -> Any:
            n = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(n) if n else b""
            try:
                return json.loads(raw) if raw else {}
            except ValueError:
                return {"_unparsed": raw.decode("utf-8", "replace")[:2000]}

        def _other(self) -> None:
            body = self._read_body() if self.command == "POST" else None
            name, _ = route(self.path)
            model.log(
                {
                    "method": self.command,
                    "path": self.path,
                    "scenario": name,
                    "kind": "other",
                    "body": body,
                }
            )
            self._send_json(200, {})

        do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = _other

        def do_POST(self) -> None:
            name, rest = route(self.path)
            if rest.rstrip("/") != "/v1/messages":
                return self._other()
            body = self._read_body()
            rec: dict[str, Any] = {
                "method": "POST",
                "path": self.path,
                "headers": self._headers(),
                "body": body,
            }
            if name not in model.scenarios or not isinstance(body, Mapping):
                # an unknown route is a harness bug: fail loudly in the CLI's
                # output instead of playing some other session's script
                msg = f"fake model: no scenario for path {self.path!r}"
                rec.update(scenario=name, kind="error", response={"error": msg})
                model.log(rec)
                return self._send_json(
                    400,
                    {"type": "error", "error": {"type": "invalid_request_error", "message": msg}},
                )
            blocks, stop, info = model.plan(name, body)
            rec.update(info)
            rec["response"] = {"content": blocks, "stop_reason": stop}
            model.log(rec)
            message = {
                "id": "msg_fake_" + uuid.uuid4().hex[:16],
                "type": "message",
                "role": "assistant",
                "model": body.get("model") or "fake-model",
                "content": blocks,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 10},
            }
            if body.get("stream"):
                self._stream(message)
            else:
                self._send_json(200, message)

        def _stream(self, message: dict[str, Any]) -> None:
            # no content-length on an event stream: close after it instead
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("cache-control", "no-cache")
            self.send_header("connection", "close")
            self.end_headers()
            self.close_connection = True

            def event(kind: str, **data: Any) -> None:
                payload = json.dumps({"type": kind, **data})
                self.wfile.write(f"event: {kind}\ndata: {payload}\n\n".encode())

            start = {**message, "content": [], "stop_reason": None}
            event("message_start", message=start)
            for i, block in enumerate(message["content"]):
                # one delta per block is enough: the CLI concatenates deltas
                if block["type"] == "text":
                    event(
                        "content_block_start", index=i, content_block={"type": "text", "text": ""}
                    )
                    delta = {"type": "text_delta", "text": block["text"]}
                else:
                    event("content_block_start", index=i, content_block={**block, "input": {}})
                    delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
                event("content_block_delta", index=i, delta=delta)
                event("content_block_stop", index=i)
            event(
                "message_delta",
                delta={"stop_reason": message["stop_reason"], "stop_sequence": None},
                usage={"output_tokens": message["usage"]["output_tokens"]},
            )
            event("message_stop")
            self.wfile.flush()

    return Handler
