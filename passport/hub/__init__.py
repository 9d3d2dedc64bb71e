"""The program office's hub (issue 14): one PostgreSQL store (``passport.hubstore``) that
holds the programs' lists, the network's trust list and the enrolled sites, publishes signed
bundles and receives the sites' check-ins (without names).

One module per concept: ``setup`` (init: migrations, profiles, the first hub key),
``lists`` (import, diff, publish, rollback at the hub), ``signing`` (the hub's Ed25519
keys), ``bundles`` (build, sign and cache the bundle per sequence), ``sites`` (enrolment,
credentials, the trust uploads), ``ingest`` (check-in batches), ``reports`` and ``users``
(the hub's admins). Never imports Flask; ``kiosk.hub`` is the web app, ``kiosk.hubcli``
the commands.
"""


class HubError(Exception):
    """A hub request cannot be done; the message says why (one line)."""
