"""The live attack tests' server: production settings on this test run's database and cache.

The tests talk to gunicorn from loopback, the default trusted proxy, and set
X-Forwarded-For as a proxy would; TLS is not in the way (MOCHA_SSL_REDIRECT=0).
"""

from mocha_site.settings.prod import *  # noqa: F403
from mocha_site.settings.test import CACHES, PASSWORD_HASHERS, STORAGES  # noqa: F401 (this run's cache, static files from static/)

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False
