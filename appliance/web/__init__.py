"""The station's local review and administration UI (Flask, served over HTTPS).

Modules, each with one job: :mod:`.app` builds the app (``create_app``) and registers the
blueprints (:mod:`.auth`, :mod:`.status`, :mod:`.review`, :mod:`.admin`); :mod:`.context`
holds what the views share (the context, the signed-in user, role checks); :mod:`.hooks` the
rules every request follows; :mod:`.accounts` the station's roles; :mod:`.tls` its certificate;
:mod:`.server` serves it (cheroot over TLS); :mod:`.info` and :mod:`.vaultview` shape facts for
pages. The security pieces shared with the practice's UI are in :mod:`websecurity`. See
docs/web-ui.md.
"""
