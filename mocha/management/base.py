"""Base class for Mocha's commands: bad arguments give one line and exit code 2."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser


class OneLineParser(CommandParser):
    def error(self, message: str):
        if self.called_from_command_line:
            sys.stderr.write(f"{self.prog}: error: {message}\n")
            sys.exit(2)
        raise CommandError(f"Error: {message}", returncode=2)


class MochaCommand(BaseCommand):
    """Commands whose usage errors are a single line with exit code 2."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = OneLineParser  # Django hard-codes CommandParser; only error() differs
        return parser

    def fail(self, message: str) -> CommandError:
        """A CommandError Django prints as one line, exiting with code 2."""
        return CommandError(message, returncode=2)
