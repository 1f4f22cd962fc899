"""gunicorn for Mocha: `gunicorn mocha_site.asgi:application -c gunicorn.conf.py` (HTTP and
websockets).

MOCHA_BIND (default 127.0.0.1:8000) and MOCHA_WEB_WORKERS (default 2) tune it;
each worker runs its own live poller (stats/live.py), one database read a second.
"""

import os
from pathlib import Path

wsgi_app = "mocha_site.asgi:application"
# uvicorn with permessage-deflate off (mocha_site/workers.py): ~45 KB and CPU per frame saved per
# socket.
worker_class = "mocha_site.workers.MochaUvicornWorker"
bind = os.environ.get("MOCHA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("MOCHA_WEB_WORKERS", "2"))
# Websockets stay open for hours; the timeout only guards against a stuck worker's heartbeat.
timeout = 60
graceful_timeout = 10
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = os.environ.get("MOCHA_LOG_LEVEL", "warning")
proc_name = "mocha-web"


# prometheus_client's multiprocess mode (stats/instruments.py): one fresh directory per server,
# inherited by the workers it forks; a dead worker's live gauges are dropped.
def on_starting(server):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mocha_site.settings.dev")
    from django.conf import settings

    from mocha import metrics_dir

    server.mocha_metrics_dir = metrics_dir.prepare(Path(settings.VAR_DIR), os.getpid())


def child_exit(server, worker):
    from mocha import metrics_dir

    metrics_dir.worker_exited(worker.pid)


def on_exit(server):
    from mocha import metrics_dir

    metrics_dir.remove(server.mocha_metrics_dir)


def post_worker_init(worker):
    # What the worker loaded (Django, the app) lives as long as it does: frozen out of the garbage
    # collector's full passes, which then scan only what requests allocate.
    import gc

    gc.freeze()
