"""Local development and `make run`: common settings, debug from MOCHA_DEBUG."""
from .common import *  # noqa: F401,F403
