"""What both web UIs (the station's review UI and the practice's patient file) need to be safe.

One module per job: :mod:`.accounts` (Argon2id account store with each UI's own role ladder),
:mod:`.sessions` (server-side sessions), :mod:`.throttle` (sign-in throttling), :mod:`.csrf`,
:mod:`.headers` (security headers), :mod:`.cookies` (the session cookie), :mod:`.redirects`
(no open redirect), :mod:`.certificates` (self-signed TLS certificate and its fingerprint) and
:mod:`.https_server` (a WSGI app over TLS). It imports nothing of either program: ``sync`` for
durable writes, nothing else of the project.
"""
