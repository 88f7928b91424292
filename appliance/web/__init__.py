"""The station's local review and administration UI (Flask, served over HTTPS).

Public surface: :func:`create_app` (the app factory), :class:`Accounts` (the account store),
:func:`ensure_web_tls` (the per-station certificate), :func:`web_server` (cheroot over TLS) and
:func:`station_info_provider` (facts for the station page). See docs/web-ui.md.
"""

from .accounts import ROLES, Account, AccountError, Accounts, accounts_path
from .app import create_app
from .info import station_info_provider
from .server import WebServer, web_server
from .tls import WebTls, ensure_web_tls

__all__ = [
    "ROLES",
    "Account",
    "AccountError",
    "Accounts",
    "WebServer",
    "WebTls",
    "accounts_path",
    "create_app",
    "ensure_web_tls",
    "station_info_provider",
    "web_server",
]
