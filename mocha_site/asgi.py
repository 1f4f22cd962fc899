"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mocha_site.settings.dev")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

# Under ASGI each request's sync code runs in a thread of its own (asgiref's
# ThreadSensitiveContext), so no later request reuses its connection: kept open, it outlived the
# thread until a full garbage collection found the DatabaseWrapper's reference cycles, each with
# its own map of the SQLite file (15-30 MB of RSS per worker after the bench's API load). Django's
# advice for ASGI: close them.
for database in settings.DATABASES.values():
    database["CONN_MAX_AGE"] = 0

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from stats.response_cache import ServeResponses  # noqa: E402
from stats.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ServeResponses(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
