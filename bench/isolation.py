"""Each benchmark phase in its own process, on a throwaway database and cache: the user's var/ is
never touched.

A workspace is a temporary directory holding bench.sqlite3 (migrated once,
then copied: a fresh schema costs a file copy, not a second migrate), the file
cache and the secret key (MOCHA_VAR_DIR). A phase prints one JSON object as
its last stdout line; anything else it prints is kept only to explain a failure.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings

DB_NAME = "bench.sqlite3"

# Phase name → "module:function(quick) -> dict". The ingest and dataset phases are the lead's.
PHASES = {
    "pipeline": "bench.ingest:pipeline",
    "gateway": "bench.ingest:gateway",
    "backfill": "bench.history:run",
    "dataset": "bench.dataset:build",
    "api": "bench.api:run",
    "ws": "bench.ws:run",
    "api_busy": "bench.busy:run",
}
# Phases that share a workspace run in order in it: api, ws and api_busy read the dataset phase's
# database (api_busy last: it adds messages).
GROUPS = [["pipeline"], ["gateway"], ["backfill"], ["dataset", "api", "ws", "api_busy"]]


def run_inline(name: str, quick: bool) -> dict:
    """Run one phase in this process (the `--phase` subprocess): import its function and call it."""
    module_name, func_name = PHASES[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return {"error": f"{module_name} is not available ({exc})"}
    return getattr(module, func_name)(quick)


# Phases that run the collector in their own process load the collector's settings, as
# `manage.py collect` does: its memory is then measured as deployed.
COLLECTOR_PHASES = {"gateway"}


def phase_env(workdir: Path, name: str = "") -> dict:
    """The environment of a phase process: its own database and var dir, SQLite and file cache
    only."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MOCHA_SECRET_KEY"}}
    env.update(
        DATABASE_URL=f"sqlite:///{workdir / DB_NAME}",
        MOCHA_VAR_DIR=str(workdir),
        DJANGO_SETTINGS_MODULE="mocha_site.settings.dev",
        PYTHONUNBUFFERED="1",
    )
    if name in COLLECTOR_PHASES:
        env.update(
            MOCHA_BASE_SETTINGS=env["DJANGO_SETTINGS_MODULE"],
            DJANGO_SETTINGS_MODULE="mocha_site.settings.collector",
        )
    env.pop("DISCORD_TOKEN", None)
    return env


def manage(*args: str) -> list[str]:
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args]


class Workspaces:
    """Temporary directories with a migrated database; all removed on exit."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mocha-bench-"))
        self.template: Path | None = None

    def __enter__(self) -> Workspaces:
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def migrated_template(self) -> Path:
        if self.template is None:
            self.template = self.root / "template"
            self.template.mkdir()
            result = subprocess.run(
                manage("migrate", "--no-input", "-v", "0"),
                env=phase_env(self.template),
                capture_output=True,
                text=True,
                cwd=settings.BASE_DIR,
            )
            if result.returncode != 0:
                raise RuntimeError(f"migrate failed: {last_line(result.stderr)}")
        return self.template

    def new(self, name: str) -> Path:
        """A fresh workspace: a copy of the migrated database."""
        workdir = self.root / name
        workdir.mkdir()
        template = self.migrated_template()
        for suffix in (
            "",
            "-wal",
        ):  # a WAL left behind (no checkpoint at exit) holds part of the schema
            if (template / (DB_NAME + suffix)).exists():
                shutil.copy2(template / (DB_NAME + suffix), workdir / (DB_NAME + suffix))
        return workdir


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def run_phase(name: str, workdir: Path, quick: bool, timeout_s: float) -> dict:
    """Run `manage.py bench --phase NAME` in workdir; its last stdout line is the result (or an
    error)."""
    args = manage("bench", "--phase", name, *(["--quick"] if quick else []))
    proc = subprocess.Popen(
        args,
        env=phase_env(workdir, name),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=settings.BASE_DIR,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        # A hang should explain itself: the phase dumps its threads' stacks on SIGUSR1.
        proc.send_signal(signal.SIGUSR1)
        try:
            proc.communicate(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        proc.kill()
        _, stderr = proc.communicate()
        sys.stderr.write(f"bench: {name} timed out; its stacks:\n{stderr[-6000:]}\n")
        return {"error": f"timed out after {timeout_s:.0f} s"}
    result = subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)
    try:
        doc = json.loads(last_line(result.stdout))
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except ValueError:
        reason = last_line(result.stderr) or last_line(result.stdout) or "no output"
        return {"error": f"exit code {result.returncode}: {reason}"}
    if result.returncode != 0 and "error" not in doc:
        doc["error"] = f"exit code {result.returncode}: {last_line(result.stderr)}"
    return doc
