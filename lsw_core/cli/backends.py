"""`lsw backends`: what is installed."""

from __future__ import annotations

import json

import click

from lsw_core.plugins import KINDS, broken_plugins, registry


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
@click.option("--strict", is_flag=True, help="Exit with status 1 when any plugin failed to load (for plugins' CI).")
def backends(as_json: bool, strict: bool) -> None:
    """List installed generator backends and other components, and plugins that failed to load."""
    listing = {
        kind: {n: {"plugin": e.plugin, "description": e.description} for n, e in sorted(registry(kind).items())}
        for kind in KINDS
    }
    broken = broken_plugins()
    if as_json:
        click.echo(json.dumps({"components": listing, "broken": broken}, indent=2))
    else:
        _print(listing, broken)
    if strict and broken:
        raise SystemExit(1)


def _print(listing: dict, broken: dict[str, str]) -> None:
    for kind, entries in listing.items():
        click.echo(f"{kind.replace('_', ' ').replace('loss', 'losse')}s:")
        for name, info in entries.items():
            click.echo(f"  {name:<16} {info['description']}  [{info['plugin']}]")
        if not entries:
            click.echo("  (none)")
    if broken:
        click.echo("broken plugins:")
        for name, why in sorted(broken.items()):
            click.echo(f"  {name}: {why}")
