"""The collector process (`manage.py collect`): the deployment's own settings without the apps
only the web server uses (admin, sign-in, websockets, sessions), so that the process imports only
what counting needs. manage.py picks this module for `collect` and names the deployment's
settings module in MOCHA_BASE_SETTINGS."""

import importlib
import os

_base = importlib.import_module(os.environ.get("MOCHA_BASE_SETTINGS", "mocha_site.settings.dev"))
globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

INSTALLED_APPS = [
    "django.contrib.auth",  # Guild.viewers
    "django.contrib.contenttypes",
    "cachalot",  # the collector's writes must invalidate the web's cached Guild/Channel/Member rows
    "mocha",
    "stats",
    "collector",
    "simulator",
    "bench",  # its gateway phase measures the collector's memory under these settings
]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "mocha_site.urls_collector"
