#!/usr/bin/env python
"""Django's command-line utility for Mocha."""

import os
import sys

COLLECTOR = "mocha_site.settings.collector"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mocha_site.settings.dev")
    if sys.argv[1:2] == ["collect"] and os.environ["DJANGO_SETTINGS_MODULE"] != COLLECTOR:
        # The collector process loads only the apps counting needs (its settings module says).
        os.environ["MOCHA_BASE_SETTINGS"] = os.environ["DJANGO_SETTINGS_MODULE"]
        os.environ["DJANGO_SETTINGS_MODULE"] = COLLECTOR
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
