"""`manage.py bench [--quick] [--json PATH]`: run every benchmark phase in isolation, print and
write the figures."""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import isolation, report
from mocha.management.base import MochaCommand

RESERVED = {"machine", "quick", "duration_s", "started_at", "command", "phases", "errors"}
# Per phase, against hangs: a quick phase takes 10-40 s on an idle 2-core machine, several times
# that when it is shared (gateway plays four bursts: two transports, two clients).
TIMEOUT_QUICK_S, TIMEOUT_FULL_S = 180, 1800


class Command(MochaCommand):
    help = (
        "Benchmark ingestion, API, websockets and memory (BENCHMARKS.md); "
        "--quick takes under a minute."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--quick", action="store_true", help="small dataset and short runs (< 60 s)"
        )
        parser.add_argument(
            "--json", dest="json_path", metavar="PATH", help="write the merged result document here"
        )
        parser.add_argument(
            "--phases",
            metavar="A,B",
            help=f"run only these phases (of {', '.join(isolation.PHASES)})",
        )
        parser.add_argument(
            "--phase",
            choices=sorted(isolation.PHASES),
            help="internal: run one phase in this process",
        )

    def handle(
        self,
        *args,
        quick: bool,
        json_path: str | None,
        phases: str | None,
        phase: str | None,
        **options,
    ) -> None:
        if phase:
            if json_path or phases:
                raise self.fail(
                    "--phase runs one phase and prints its JSON; it takes no --json or --phases"
                )
            return self.run_phase(phase, quick)
        selected = self.selected(phases)
        target = Path(json_path) if json_path else None
        if target is not None and not target.parent.is_dir():
            raise self.fail(f"--json: directory {target.parent} does not exist")
        doc = self.orchestrate(selected, quick)
        if target is not None:
            target.write_text(_dumps(doc) + "\n")
        self.stdout.write(report.table(doc))
        if target is not None:
            self.stderr.write(f"bench: wrote {target}")
        if doc["errors"]:
            from django.core.management.base import CommandError

            raise CommandError(f"phases failed: {', '.join(doc['errors'])}", returncode=1)

    def selected(self, phases: str | None) -> list[str]:
        if not phases:
            return list(isolation.PHASES)
        names = [p.strip() for p in phases.split(",") if p.strip()]
        unknown = [p for p in names if p not in isolation.PHASES]
        if unknown or not names:
            raise self.fail(
                f"--phases: unknown phase {', '.join(unknown) or '(none)'}; "
                f"choose from {', '.join(isolation.PHASES)}"
            )
        return names

    def run_phase(self, name: str, quick: bool) -> None:
        """The subprocess side: one JSON object as the last stdout line, exit 1 on failure."""
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # the parent's timeout asks
        try:
            result = isolation.run_inline(name, quick)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            result = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(_dumps(result, indent=None) + "\n")
        sys.stdout.flush()
        if "error" in result:
            sys.exit(1)

    def orchestrate(self, selected: list[str], quick: bool) -> dict:
        """Run the selected phases group by group in fresh workspaces and merge their documents."""
        started = time.monotonic()
        doc: dict = {
            "quick": quick,
            "started_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "command": "manage.py bench" + (" --quick" if quick else ""),
            "machine": report.machine(),
            "phases": {},
            "errors": {},
        }
        timeout = TIMEOUT_QUICK_S if quick else TIMEOUT_FULL_S
        with isolation.Workspaces() as spaces:
            for group in isolation.GROUPS:
                names = [n for n in group if n in selected]
                if not names:
                    continue
                workdir = spaces.new(group[0])
                for name in names:
                    phase_started = time.monotonic()
                    result = isolation.run_phase(name, workdir, quick, timeout)
                    elapsed = time.monotonic() - phase_started
                    doc["phases"][name] = {"elapsed_s": round(elapsed, 1)}
                    error = result.pop("error", None)
                    if error:
                        doc["errors"][name] = error
                        doc["phases"][name]["error"] = error
                    merge(doc, name, result)
                    status = f"error: {error}" if error else "ok"
                    self.stderr.write(
                        f"bench: [{time.monotonic() - started:6.1f} s] "
                        f"{name:<9} {elapsed:5.1f} s  {status}"
                    )
        doc["duration_s"] = round(time.monotonic() - started, 1)
        doc["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
        return doc


def merge(doc: dict, phase: str, result: dict) -> None:
    """Phase fields go to the top level (the documented names); a clash is kept under
    "<phase>.<field>"."""
    for key, value in result.items():
        doc[f"{phase}.{key}" if key in doc or key in RESERVED else key] = value


def _dumps(value, indent: int | None = 2) -> str:
    return json.dumps(value, indent=indent, default=str)
