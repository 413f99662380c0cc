"""Repository-wide pytest set-up: hypothesis profiles and the pytester fixture.

Profiles:
- ``ci``: derandomized (the same examples on every run, so a CI failure replays locally),
  no example database, no deadline (CPU speed varies between machines), failing
  examples printed as a reproduction blob.
- ``dev``: random exploration with the local example database, no deadline.

``LATENTFLOW_HYPOTHESIS_PROFILE`` picks one explicitly; otherwise ``CI=true`` picks
``ci`` and anything else ``dev``.
"""

from __future__ import annotations

import os

from hypothesis import settings

pytest_plugins = ("pytester",)

HYPOTHESIS_PROFILES = ("ci", "dev")

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)


def hypothesis_profile_for(environ: dict[str, str]) -> str:
    chosen = environ.get("LATENTFLOW_HYPOTHESIS_PROFILE", "").strip()
    if chosen:
        if chosen not in HYPOTHESIS_PROFILES:
            raise ValueError(
                f"LATENTFLOW_HYPOTHESIS_PROFILE={chosen!r} is not a known profile; "
                f"allowed: {', '.join(HYPOTHESIS_PROFILES)}"
            )
        return chosen
    return "ci" if environ.get("CI", "").strip().lower() in ("true", "1") else "dev"


settings.load_profile(hypothesis_profile_for(dict(os.environ)))
