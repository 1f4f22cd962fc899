"""prometheus_client's multiprocess directory for one gunicorn server (hooks in gunicorn.conf.py).

Each web worker writes its counters and histograms to files there, and whichever
worker answers a scrape adds them all up. The directory must be fresh at every
server start (old files would add a previous run's counts) and must not be shared
with another server, so each master gets its own, named by its pid, under
var/prometheus/; directories of servers no longer running are removed. An operator's
own PROMETHEUS_MULTIPROC_DIR is used instead when set, and emptied at start.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare(var_dir: Path, server_pid: int) -> Path:
    """Create this server's empty directory and export it to the workers it will fork."""
    if os.environ.get(ENV):
        path = Path(os.environ[ENV])
    else:
        parent = var_dir / "prometheus"
        parent.mkdir(parents=True, exist_ok=True)
        for old in parent.glob("web-*"):
            if old.name[4:].isdigit() and not alive(int(old.name[4:])):
                shutil.rmtree(old, ignore_errors=True)
        path = parent / f"web-{server_pid}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[ENV] = str(path)
    return path


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges (its counters and histograms keep counting in the
    totals)."""
    from prometheus_client import multiprocess

    if os.environ.get(ENV):
        multiprocess.mark_process_dead(pid)


def remove(path: Path) -> None:
    if path.name.startswith("web-"):
        shutil.rmtree(path, ignore_errors=True)
