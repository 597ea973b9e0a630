"""The `lsw` command line. Each subcommand lives in its own module; plugins add more through the
`register_commands` hook. User errors (`LswError`, and click's usage errors of subcommands) print
one line and exit with status 2."""

from __future__ import annotations

import sys

import click

from lsw_core.errors import LswError


class _Group(click.Group):
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


def _add_commands() -> None:
    from lsw_core.cli import backends, convert, demo, edit, encoder, evaluate, swap, train

    for command in (
        backends.backends,
        train.train,
        swap.swap,
        edit.edit,
        demo.demo,
        evaluate.evaluate,
        convert.convert,
        encoder.encoder,
    ):
        cli.add_command(command)

    from lsw_core.plugins import plugin_manager

    plugin_manager().hook.register_commands(cli=cli)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def main() -> None:
    import warnings

    warnings.formatwarning = _one_line_warning
    _add_commands()
    cli(prog_name="lsw")
