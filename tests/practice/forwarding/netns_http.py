"""Run inside a network namespace: ``python -m tests.practice.forwarding.netns_http CMD URL``.

The test process cannot reach a namespace's loopback, so it runs this small client there
(``ip netns exec NS python -m ...``). ``wait URL [SECONDS]`` polls until the URL answers 200;
``get URL [ACCEPT]`` prints the status on stderr and writes the body to stdout.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request


def _get(url: str, accept: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def main(argv: list[str]) -> int:
    command, url = argv[0], argv[1]
    if command == "wait":
        deadline = time.monotonic() + float(argv[2] if len(argv) > 2 else 30)
        while time.monotonic() < deadline:
            try:
                if _get(url, None)[0] == 200:
                    return 0
            except OSError:
                pass
            time.sleep(0.1)
        return 1
    status, body = _get(url, argv[2] if len(argv) > 2 else None)
    print(status, file=sys.stderr)
    sys.stdout.buffer.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
