"""Tests: fast hashing, and a database and cache of this test run's own.

Several test runs may share a machine (and subprocesses of one run must share
its database and cache), so everything is named by MOCHA_TEST_RUN, which the
first process sets and its subprocesses inherit.
"""

import os

from .common import *  # noqa: F401,F403
from .common import CACHES, DATABASES, VAR_DIR

RUN_ID = os.environ.setdefault("MOCHA_TEST_RUN", str(os.getpid()))

# The test client talks from 127.0.0.1; throttle tests set their own exemptions.
MOCHA_API_RATE_EXEMPT = frozenset({"127.0.0.1", "::1"})
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{RUN_ID}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_mocha_{RUN_ID}"}
if CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
    CACHES["default"]["LOCATION"] = str(VAR_DIR / f"test-cache-{RUN_ID}")
else:
    CACHES["default"]["KEY_PREFIX"] = f"mocha-test-{RUN_ID}"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
