"""The `leakmon` command line: a lazy registry of the commands.

Each command lives in a `cli_*` module that is imported only when that command
runs, so `leakmon --help` stays fast. Errors map to exit codes in
`clikit.guarded`: 0 ok, 1 runtime failure, 2 bad usage or bad config.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> (module:attribute, one-line help shown by `leakmon --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("monitor.cli_core:config_group", "Validate the configuration."),
    "check": ("monitor.cli_check:check", "Tor preflight, then page 1 of every source."),
    "crawl": ("monitor.cli_core:crawl", "Crawl the sources and deliver alerts."),
    "run": ("monitor.cli_core:run", "Run as a service until SIGTERM (SIGHUP reloads)."),
    "status": ("monitor.cli_core:status", "Health per source and of the outbox."),
    "demo": ("monitor.cli_core:demo", "Run the embedded demo world."),
    "extract": ("monitor.cli_extract:extract", "Run an extractor on a saved page (offline)."),
    "parse": ("monitor.cli_extract:parse", "What leakmon reads in a title or post text."),
    "replay": ("monitor.cli_replay:replay", "Replay saved captures of a source (offline)."),
    "listings": ("monitor.cli_history:listings", "Stored listings, with filters."),
    "show": ("monitor.cli_history:show", "One listing: fields, changes, timeline."),
    "events": ("monitor.cli_history:events", "Lifecycle and source events."),
    "sellers": ("monitor.cli_history:sellers", "Seller handles across sources."),
    "seller": ("monitor.cli_history:seller", "One seller's listings."),
    "stats": ("monitor.cli_history:stats", "Counts of listings, events and crawls."),
    "prune": (
        "monitor.cli_history:prune",
        "Drop events and crawls older than keep_*.",
    ),
    "alerts": ("monitor.cli_alerts:alerts", "The outbox; `alerts retry` re-queues failed ones."),
    "notify": ("monitor.cli_alerts:notify_group", "Notification targets: `notify test`."),
    "rules": ("monitor.cli_alerts:rules_group", "Alert rules: `rules test` retro-hunts."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, _, attr = entry[0].partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leakmon")
def main(**_: Any) -> None:
    """leakmon: watch dark-web leak markets through Tor and track every listing's life."""
