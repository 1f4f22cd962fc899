"""Production: fails loudly when a required variable is missing; never a default secret."""

import os

from django.core.exceptions import ImproperlyConfigured

from .common import *  # noqa: F401,F403
from .common import env_bool

for _name in ("MOCHA_SECRET_KEY", "MOCHA_ALLOWED_HOSTS"):
    if not os.environ.get(_name):
        raise ImproperlyConfigured(f"{_name} must be set in production")

SECRET_KEY = os.environ["MOCHA_SECRET_KEY"]
DEBUG = env_bool("MOCHA_DEBUG", False)

# TLS is terminated by the reverse proxy in front of gunicorn.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
MOCHA_BEHIND_PROXY = env_bool(
    "MOCHA_BEHIND_PROXY", True
)  # the API rate limit keys on the real client
SECURE_SSL_REDIRECT = env_bool("MOCHA_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
