"""Outside control of the fake camera and the mock button: a scripted scene and a trigger.

Only for a station configured with the fake camera *and* mock pins (``capture-station run``
on a development machine or under the soak harness, never on a Pi): with those, nothing in
the room can show the camera a wristband or press the button, so this UNIX socket under the
state directory lets a script do both. One command per line, one answer line each
(``ok ...`` or ``error ...``)::

    scene empty                       the clinical subject, nothing else in view
    scene page                        a page lying on the desk (document mode)
    scene symbols <JSON list>         barcodes in view, each a capture.fake.Symbol's fields,
                                      e.g. [{"symbology": "qrcode", "content": "..."}]
    press [seconds]                   a click of the capture button (default 0.1 s)
    hold [seconds]                    a long press (default: the button's hold time + 0.3 s)
    <other words>                     handlers the station adds (``status``, ``clock``)

The socket is created owner-only (0600) and removed on close; anyone who can open it could
already read the state directory.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .fake import FakeCamera, Scene, Symbol
from .fake_page import PageScene

log = logging.getLogger(__name__)

#: Name of the socket in the state directory.
SOCKET_NAME = "fake-control.sock"
#: A handler gets the words after its name and answers with the text after ``ok``.
Handler = Callable[[list[str]], str]


def scene_from(words: list[str]) -> Scene:
    """The :class:`Scene` a ``scene ...`` command names (ValueError when it names none)."""
    kind = words[0] if words else ""
    if kind == "empty":
        return Scene()
    if kind == "page":
        return Scene(page=PageScene())
    if kind == "symbols":
        specs = json.loads(" ".join(words[1:]) or "[]")
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise ValueError("symbols takes a JSON list of objects")
        symbols = []
        for spec in specs:
            if "center" in spec:
                spec = {**spec, "center": tuple(spec["center"])}
            symbols.append(Symbol(**spec))
        return Scene(symbols=tuple(symbols))
    raise ValueError("scene is one of: empty, page, symbols <JSON>")


class FakeControlServer:
    """Serves the commands above on ``path`` (one thread; one client at a time is enough)."""

    def __init__(self, path: Path, camera: FakeCamera, pin: Any, *, hold_seconds: float,
                 handlers: Mapping[str, Handler] | None = None) -> None:
        self.path = Path(path)
        self.camera = camera
        self.pin = pin
        self.hold_seconds = hold_seconds
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self._stop = threading.Event()
        self.path.unlink(missing_ok=True)  # a socket left by a killed run
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            self._sock.bind(str(self.path))
        finally:
            os.umask(old)
        self._sock.listen(4)
        self._sock.settimeout(0.5)
        self._thread = threading.Thread(target=self._serve, name="fake-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(30)
                try:
                    self._session(conn)
                except OSError:
                    continue

    def _session(self, conn: socket.socket) -> None:
        with conn.makefile("rwb", buffering=0) as stream:
            for raw in stream:
                answer = self.handle(raw.decode("utf-8", "replace").strip())
                stream.write(answer.encode() + b"\n")

    def handle(self, line: str) -> str:
        """One command -> its answer line (also callable directly, e.g. from tests)."""
        words = line.split()
        if not words:
            return "error empty command"
        name, rest = words[0], words[1:]
        try:
            if name == "scene":
                self.camera.set_scene(scene_from(rest))
                return "ok"
            if name in ("press", "hold"):
                default = 0.1 if name == "press" else self.hold_seconds + 0.3
                self.press(float(rest[0]) if rest else default)
                return "ok"
            handler = self.handlers.get(name)
            if handler is None:
                return f"error unknown command {name!r}"
            return f"ok {handler(rest)}".rstrip()
        except Exception as exc:  # noqa: BLE001 - a bad command answers, never kills the server
            return f"error {type(exc).__name__}: {exc}"[:300]

    def press(self, seconds: float) -> None:
        """Drive the mock button pin low for ``seconds`` (what a finger does)."""
        self.pin.drive_low()
        try:
            time.sleep(max(0.0, min(seconds, 30.0)))
        finally:
            self.pin.drive_high()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2)
        self.path.unlink(missing_ok=True)
