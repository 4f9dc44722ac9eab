"""A scripted judge and generator on 127.0.0.1 that speaks the real chat-completions protocol.

A real judge LLM (GPT-4o, a 70B model) cannot run here, so this server stands in for it: it
answers ``POST /v1/chat/completions`` with text shaped like a judge's or a generator's reply,
chosen from the prompt it is sent (settings, questions, example answers, verdicts, repair turns).
Everything it decides is a function of the request's content and ``seed``, so a re-run gets the
same replies; what it is told to do badly it does to a fixed, hash-chosen share of the items:

* ``malformed_every=k``: about 1 in k verdicts lacks its ``Score: N`` line (the repair turn fixes
  it); ``hopeless_every=k``: about 1 in k of those stays unreadable after the repair too;
* ``slow_every=k``: about 1 in k verdicts takes ``slow_s`` seconds (longer than a client timeout);
* ``delay_s``: a fixed latency for every request (benchmarks: the endpoint is not the bottleneck).

It records every request body (``requests``) and counts them (``count()``).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:15], 16)


class ScriptedJudge:
    def __init__(
        self,
        *,
        seed: int = 0,
        delay_s: float = 0.0,
        malformed_every: int = 0,
        hopeless_every: int = 0,
        slow_every: int = 0,
        slow_s: float = 0.0,
        port: int = 0,
    ):
        self.seed = seed
        self.delay_s = delay_s
        self.malformed_every = malformed_every
        self.hopeless_every = hopeless_every
        self.slow_every = slow_every
        self.slow_s = slow_s
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []  # the Authorization header of each request
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test): nothing to answer

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self._send(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with server._lock:
                    server.requests.append(body)
                    server.auth.append(self.headers.get("Authorization"))
                text = server.reply(body["messages"])
                time.sleep(server.delay_s)
                self._send(200, _completion(body, text))

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def __enter__(self) -> ScriptedJudge:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what it answers ----------------------------------------------------------------------

    def _every(self, h: int, k: int, salt: int) -> bool:
        return bool(k) and (h // salt) % k == 0

    def score_of(self, prompt: str) -> int:
        """The score this judge gives the verdict prompt ``prompt`` (its first user turn)."""
        return 1 + _hash(f"{self.seed}:{prompt}") % 5

    def fate(self, prompt: str) -> str:
        """What happens to a verdict prompt: ok, malformed (repaired), hopeless, or slow."""
        h = _hash(f"{self.seed}:{prompt}")
        if self._every(h, self.slow_every, 13):
            return "slow"
        if self._every(h, self.malformed_every, 7):
            return "hopeless" if self._every(h, self.hopeless_every, 11) else "malformed"
        return "ok"

    def reply(self, messages: list[dict[str, str]]) -> str:
        first = next(m["content"] for m in messages if m["role"] == "user")
        last = messages[-1]["content"]
        if "Answer to grade:" in first:
            return self._verdict(first, repair=len(messages) > 2)
        if len(messages) > 2:  # a generator repair turn: this script never needs one
            return "Unexpected repair turn."
        if "Available settings:" in first:
            options = re.findall(r"^- (.+)$", first.split("Available settings:")[1], re.M)
            h = _hash(first)
            return "\n".join(f"- {options[(h + i * 7) % len(options)]}" for i in range(2))
        if "challenging questions" in first:
            count = int(re.search(r"Write exactly (\d+)", first)[1])
            h = _hash(first) % 1000
            return "\n".join(
                f"{i + 1}. What would you do about problem {h}-{i}?" for i in range(count)
            )
        if "example answers" in last:
            h = _hash(first) % 1000
            return "\n".join(f"Score {n}: An answer worth {n} (case {h})." for n in range(1, 6))
        return "I cannot help with that."

    def _verdict(self, prompt: str, *, repair: bool) -> str:
        score, fate = self.score_of(prompt), self.fate(prompt)
        if fate == "slow":
            time.sleep(self.slow_s)
        if fate == "hopeless" or (fate == "malformed" and not repair):
            return f"The answer is in character here and there. I would rate it {score} of 5."
        if repair:
            return f"Score: {score}"
        return f"The answer matches the rubric's level {score} best.\nScore: {score}"


class _Server(ThreadingHTTPServer):
    # the default listen backlog (5) drops the connections of a burst of concurrent requests,
    # which then wait a second for a SYN retry: the endpoint, not the client, would be measured
    request_queue_size = 128


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "scripted"),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(text.split()), "total_tokens": 0},
    }


def main() -> None:
    """``python tests/judge_server.py [--port P] [--delay-s S] [--malformed-every K]``: serve until killed,
    printing the URL on the first line (benchmarks run it in its own process, so the server's
    threads do not share the client's interpreter lock)."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--delay-s", type=float, default=0.0)
    parser.add_argument("--malformed-every", type=int, default=0)
    args = parser.parse_args()
    judge = ScriptedJudge(
        delay_s=args.delay_s, malformed_every=args.malformed_every, port=args.port
    )
    with judge as server:
        print(server.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
