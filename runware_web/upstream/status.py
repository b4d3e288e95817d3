"""Whether Runware can be reached, as the runner's upstream watch last saw it.

The watch writes one of the values below to the cache under UPSTREAM_STATUS_KEY; every page reads
it (context_processors.portal) to show a notice while live work cannot reach Runware.
"""

from __future__ import annotations

UPSTREAM_STATUS_KEY = "runware-web:upstream-status"
UPSTREAM_OK = "ok"
UPSTREAM_UNREACHABLE = "unreachable"
UPSTREAM_KEY_REFUSED = "key-refused"
