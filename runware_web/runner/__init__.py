from runware_web.runner.core import *  # noqa: F401,F403  (temporary while the package is split)
from runware_web.runner.core import (  # noqa: F401
    UPSTREAM_STATUS_KEY, Handler, detached, parse_cost, publish, register, runner,
)
