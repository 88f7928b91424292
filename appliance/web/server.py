"""Serve the review UI over HTTPS with the station's own certificate (cheroot).

The station runtime calls :func:`web_server` once at start; tests call it with port 0 and read
the bound port back. The WSGI server is :class:`websecurity.https_server.HttpsServer`, the same
one the receiver uses, so both programs share one TLS setup (TLS 1.2 minimum).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from websecurity.certificates import TlsCertificate
from websecurity.https_server import HttpsServer

from ..config import Config
from ..paths import StatePaths
from .tls import ensure_web_tls


@dataclass
class WebServer:
    server: HttpsServer
    tls: TlsCertificate

    @property
    def port(self) -> int:
        return self.server.port

    def url(self, host: str | None = None) -> str:
        """The address to open, e.g. ``https://127.0.0.1:8443/`` (valid after start)."""
        name = host or self.server.host
        if name in ("0.0.0.0", "::", ""):  # noqa: S104 - a display choice, not a bind
            name = "127.0.0.1"
        if ":" in name:
            name = f"[{name}]"
        return f"https://{name}:{self.port}/"

    def start(self) -> WebServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def web_server(app: Flask, cfg: Config, paths: StatePaths, *, host: str | None = None,
               port: int | None = None, tls: TlsCertificate | None = None) -> WebServer:
    """A (not yet started) HTTPS server for ``app`` on ``[web] listen``/``port`` by default."""
    tls = tls or ensure_web_tls(paths, station_name=cfg.station.name)
    server = HttpsServer(
        app,
        host=cfg.web.listen if host is None else host,
        port=cfg.web.port if port is None else port,
        cert_path=tls.cert_path,
        key_path=tls.key_path,
        threads=8,
        timeout=30.0,
    )
    return WebServer(server, tls)
