"""The browser tests' server: test settings (same database and cache), static files straight from
static/.

Serving through whitenoise's finders keeps DEBUG off without a collectstatic
into the shared var/ directory; `manage.py run` covers the hashed, compressed path.
"""

from mocha_site.settings.test import *  # noqa: F401,F403

DEBUG = False
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False
