"""Test settings: production settings (DEBUG off) with what a test run on plain HTTP needs."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "false")
os.environ.setdefault("DJANGO_SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("WHITENOISE_USE_FINDERS", "true")
os.environ.setdefault("RUNWARE_WEB_MEDIA_ROOT", tempfile.mkdtemp(prefix="runware-web-media-"))
os.environ.pop("RUNWARE_API_KEY", None)  # tests talk to the simulator, never to Runware

from runware_web.settings import *  # noqa: E402,F403
from runware_web.settings import ALLOWED_HOSTS  # noqa: E402

ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Off: tests of the rate limit turn it on. A benchmark's worker passes one (benchmarks/endpoint_relay.py).
RATE_LIMIT_PER_MINUTE = int(os.environ.get("RUNWARE_WEB_RATE_LIMIT_PER_MINUTE", 0))
RUNWARE_API_KEY = "test-key-7c1d9f0e2b"  # a recognisable key, so tests can check it never leaks
RUNWARE_SIMULATED = True
RUNWARE_RETRY_DELAY = 0.2
RUNWARE_RECOVERY_TIMEOUT = float(os.environ.get("RUNWARE_RECOVERY_TIMEOUT", 20))  # fault tests' workers pass one
RUNWARE_SHUTDOWN_GRACE = 10.0
# Long in the test process, so that its live server's runner does not take over the orphans tests
# make on purpose; worker processes started by the fault tests pass a short one.
RUNWARE_LEASE_SECONDS = float(os.environ.get("RUNWARE_LEASE_SECONDS", 60))
