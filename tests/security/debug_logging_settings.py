"""Test settings with every logger at DEBUG, so a secret that reaches any log record shows up."""

from copy import deepcopy

from mocha_site.settings.test import *  # noqa: F401,F403
from mocha_site.settings.test import LOGGING as _LOGGING

LOGGING = deepcopy(_LOGGING)
LOGGING["root"]["level"] = "DEBUG"
for _name in (
    "discord",
    "discord.http",
    "discord.gateway",
    "discord.client",
    "aiohttp",
    "websockets",
    "mocha",
    "django",
):
    LOGGING["loggers"][_name] = {"level": "DEBUG"}
