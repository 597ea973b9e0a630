"""The `lsw` command line. Each subcommand lives in its own module, imported only when it runs (or
its `--help` is asked for), so `lsw --help` starts without loading torch; plugins add more through
the `register_commands` hook. User errors (`LswError`, and click's usage errors of subcommands)
print one line and exit with status 2."""

from __future__ import annotations

import importlib
import sys

import click

from lsw_core.errors import LswError

#: The built-in commands: name → (module defining a click command of that name, line for `lsw --help`).
COMMANDS = {
    "backends": ("lsw_core.cli.backends", "List installed generators, components and broken plugins."),
    "convert": ("lsw_core.cli.convert", "Convert a checkpoint into an lsw folder."),
    "demo": ("lsw_core.cli.demo", "Train, swap and measure on the synthetic face world."),
    "edit": ("lsw_core.cli.edit", "Edit swapped latents along a direction."),
    "encoder": ("lsw_core.cli.encoder", "Latent encoders: a learned start for photo inversion."),
    "eval": ("lsw_core.cli.evaluate", "Evaluate a mixer or photo triples; print JSON."),
    "swap": ("lsw_core.cli.swap", "Swap SOURCE onto TARGET: latents, photos, folders, clips."),
    "train": ("lsw_core.cli.train", "Train a latent mixer on a frozen generator."),
    "ui": ("lsw_core.cli.ui", "Serve a web page and an HTTP API for swaps (Gradio)."),
}


class _Group(click.Group):
    """`lsw`: built-in commands loaded on first use, plugin commands as plugins register them, and
    one `error:` line for a user's mistake."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            module, summary = COMMANDS[name]
            command = getattr(importlib.import_module(module), name if name != "eval" else "evaluate")
            command.short_help = command.short_help or summary
            self.add_command(command, name)
        return self.commands.get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing from the summaries, without importing every command."""
        rows = [(name, COMMANDS[name][1]) for name in COMMANDS]
        rows += [(n, c.get_short_help_str(formatter.width - 20)) for n, c in self.commands.items() if n not in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LswError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except click.UsageError as exc:  # a bad option value or a missing argument: one line too
            command = exc.ctx.command_path if exc.ctx is not None else "lsw"
            click.echo(f"error: {exc.format_message()} (see `{command} --help`)", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lsw-core")
def cli() -> None:
    """LatentSwap face swapping: train a latent mixer on a frozen generator, swap, render, evaluate.

    Start with `lsw demo --out demo/` (the embedded synthetic face world, CPU, a few minutes), and
    `lsw backends` to see which generators and components are installed.
    """


def add_plugin_commands() -> None:
    """Let installed plugins add their commands (`register_commands`)."""
    from lsw_core.plugins import plugin_manager

    plugin_manager().hook.register_commands(cli=cli)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def main() -> None:
    import warnings

    warnings.formatwarning = _one_line_warning
    add_plugin_commands()
    cli(prog_name="lsw")
