"""The fake model on its own, without the CLI (fast)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_model import FakeModel, find_cwd, route

pytestmark = pytest.mark.e2e

SCRIPT: list[dict[str, Any]] = [
    {
        "text": "writing",
        "tool_use": {"name": "Write", "input": {"file_path": "{{cwd}}/a.txt", "content": "x"}},
    },
    {"text": "done"},
]
MAIN_TOOLS = [{"name": "Bash"}, {"name": "Write"}]
CWD_MSG = {"role": "system", "content": "# Environment\n - Primary working directory: /w/repo\n"}


@pytest.fixture
def model(tmp_path: Path) -> Iterator[FakeModel]:
    with FakeModel({"a": SCRIPT}, tmp_path / "log.jsonl") as m:
        yield m


def post(url: str, body: Any) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def sse_message(raw: bytes) -> dict[str, Any]:
    """Rebuild the message from an event stream, the way a client does."""
    msg: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for chunk in raw.decode().strip().split("\n\n"):
        data = json.loads(chunk.split("data: ", 1)[1])
        if data["type"] == "message_start":
            msg = data["message"]
        elif data["type"] == "content_block_start":
            msg["content"].append(data["content_block"])
        elif data["type"] == "content_block_delta":
            d, block = data["delta"], msg["content"][data["index"]]
            if d["type"] == "text_delta":
                block["text"] += d["text"]
            else:
                partial[data["index"]] = partial.get(data["index"], "") + d["partial_json"]
        elif data["type"] == "message_delta":
            msg["stop_reason"] = data["delta"]["stop_reason"]
    for i, js in partial.items():
        msg["content"][i]["input"] = json.loads(js)
    return msg


def test_refuses_non_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        FakeModel({}, tmp_path / "log.jsonl", host="0.0.0.0")


def test_route_and_cwd() -> None:
    assert route("/s/a/v1/messages?beta=true") == ("a", "/v1/messages")
    assert route("/v1/messages") == (None, "/v1/messages")
    assert find_cwd({"system": [{"type": "text", "text": "x"}], "messages": [CWD_MSG]}) == "/w/repo"


def test_streamed_turns_follow_assistant_count(model: FakeModel) -> None:
    url = model.base_url("a") + "/v1/messages?beta=true"
    body: dict[str, Any] = {
        "stream": True,
        "tools": MAIN_TOOLS,
        "messages": [{"role": "user", "content": "go"}, CWD_MSG],
    }
    status, raw = post(url, body)
    assert status == 200
    first = sse_message(raw)
    assert first["stop_reason"] == "tool_use"
    assert first["content"][1]["input"] == {"file_path": "/w/repo/a.txt", "content": "x"}
    body["messages"] += [
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": "r"},
    ]
    second = sse_message(post(url, body)[1])
    assert (second["content"][0]["text"], second["stop_reason"]) == ("done", "end_turn")
    log = [json.loads(line) for line in model.log_path.read_text().splitlines()]
    assert [(r["scenario"], r["kind"], r["turn"]) for r in log] == [
        ("a", "main", 0),
        ("a", "main", 1),
    ]


def test_plain_json_side_and_other(model: FakeModel) -> None:
    url = model.base_url("a") + "/v1/messages"
    status, raw = post(url, {"tools": [{"name": "Glob"}], "messages": []})
    assert status == 200 and json.loads(raw)["content"][0]["type"] == "text"
    assert post(model.base_url("a") + "/v1/messages/count_tokens", {}) == (200, b"{}")
    with urllib.request.urlopen(model.base_url("a") + "/anything", timeout=10) as resp:
        assert resp.read() == b"{}"
    status, raw = post(
        model.base_url("nope") + "/v1/messages", {"tools": MAIN_TOOLS, "messages": []}
    )
    assert status == 400 and b"no scenario" in raw
