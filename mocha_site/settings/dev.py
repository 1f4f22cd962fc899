"""Local development and `make run`: common settings, debug from MOCHA_DEBUG."""

from .common import *  # noqa: F401,F403

# The local user of `make run` (and the benchmark's servers) talk from loopback: never rate-limited.
MOCHA_API_RATE_EXEMPT = MOCHA_API_RATE_EXEMPT | {"127.0.0.1", "::1"}  # noqa: F405
