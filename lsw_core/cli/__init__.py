"""The `lsw` command line. Each subcommand lives in its own module, imported only when it runs (or
its `--help` is asked for), so `lsw --help` starts without loading torch; plugins add more through
the `register_commands` hook. User errors (`LswError`, and click's usage errors of subcommands)
print one line and exit with status 2: control characters in it (a path holding a newline) are
escaped, and an option that takes one value given twice is such an error. Every float option of
every command, plugin commands included, refuses NaN and ±inf (`options.finite_floats`)."""

from __future__ import annotations

import importlib
import signal
import sys
import unicodedata

import click

from lsw_core.cli.options import finite_floats
from lsw_core.errors import LswError
from lsw_core.outputs import is_main_process

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


#: Commands that run on every torchrun process (they split their work over the ranks); every other
#: command runs on rank 0 alone, so that under torchrun one process reads, computes and writes.
DISTRIBUTED_COMMANDS = {"train"}


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that temporaries are removed on the way out."""


def _idle(name: str) -> click.Command:
    """What a torchrun rank other than 0 runs for a one-process command: nothing."""
    settings = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
    return click.Command(name, context_settings=settings, callback=lambda: None)


def one_line(text: str) -> str:
    """`text` with its control characters and line or paragraph separators escaped (a newline as
    `\\n`), so that a message naming any path stays one line."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in text
    )


def _given_twice(command: click.Command, args: list[str], parent: click.Context) -> None:
    """Raise a `UsageError` when `args` give an option of `command` (or of the subcommand they name)
    that takes one value more than once: click would silently keep the last. Repeatable options,
    counters and plain flags may repeat; arguments click cannot parse are left for it to report."""
    ctx = click.Context(command, parent=parent, info_name=args[0] if args else None, resilient_parsing=True)
    try:
        _, rest, order = command.make_parser(ctx).parse_args(args=list(args[1:]))
    except click.UsageError:
        return
    seen: set[str] = set()
    for param in order:
        if not isinstance(param, click.Option) or param.multiple or param.count:
            continue
        if param.is_flag and not param.secondary_opts:
            continue
        if param.name in seen:
            names = "/".join(param.opts + param.secondary_opts)
            raise click.UsageError(f"{names} given more than once: give it once", ctx)
        seen.add(param.name)
    if isinstance(command, click.Group) and rest:
        sub = command.get_command(ctx, rest[0])
        if sub is not None:
            _given_twice(sub, rest, ctx)


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
        command = self.commands.get(name)
        return finite_floats(command) if command is not None else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing from the summaries, without importing every command."""
        rows = [(name, COMMANDS[name][1]) for name in COMMANDS]
        rows += [(n, c.get_short_help_str(formatter.width - 20)) for n, c in self.commands.items() if n not in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            _given_twice(command, [name, *rest], ctx)
            if name not in DISTRIBUTED_COMMANDS and not is_main_process():  # under torchrun: rank 0 alone
                return name, _idle(name), rest
        return name, command, rest

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LswError as exc:
            if is_main_process():  # under torchrun rank 0 speaks for all
                click.echo(f"error: {one_line(str(exc))}", err=True)
            if getattr(exc, "every_rank", False):  # the others wait for it: torchrun stops them all on one's exit
                from lsw_core.training.distributed import meet

                meet()
            sys.exit(2)
        except click.UsageError as exc:  # a bad option value or a missing argument: one line too
            command = exc.ctx.command_path if exc.ctx is not None else "lsw"
            if is_main_process():
                click.echo(f"error: {one_line(exc.format_message())} (see `{command} --help`)", err=True)
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
    return f"warning: {one_line(str(message))}\n"


def _terminate(signum, frame) -> None:
    raise Terminated()


def main() -> None:
    import warnings

    warnings.formatwarning = _one_line_warning
    signal.signal(signal.SIGTERM, _terminate)  # unwinds like Ctrl-C: temporaries are removed on the way
    try:
        add_plugin_commands()  # inside: torchrun may stop a slow-starting process here
        cli(prog_name="lsw")
    except Terminated:
        sys.exit(128 + signal.SIGTERM)
