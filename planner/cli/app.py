"""The Typer application, its root options, and :func:`main`: one line per error, the exit codes of spec §4.

Errors the user can act on (:class:`PlannerError`) are caught in :func:`main`, printed as one
line per problem on stderr, and turned into the exit codes of spec §4. Anything else is a bug
and stays a traceback (``--debug`` re-raises the others too). The commands register themselves
on :data:`app` when :mod:`planner.cli` imports their modules.
"""

import importlib
import sys
from typing import TYPE_CHECKING, Annotated, Optional, Sequence

import typer

from planner.errors import EXIT_INPUT, PlannerError

if TYPE_CHECKING:
    pass

# -h as well as --help, on every command and group (issue 20 item 8)
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="planner",
    context_settings=HELP_OPTIONS,
    help="Connection-budget capacity planner for PostgreSQL on AWS RDS and Aurora.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
catalog_app = typer.Typer(help="The instance-class catalogue: list classes, show one.", no_args_is_help=True,
                          context_settings=HELP_OPTIONS)
app.add_typer(catalog_app, name="catalog")


def _version(value: bool) -> None:
    if value:
        from planner import __version__  # read on use: importlib.metadata costs ~20 ms at every start-up

        typer.echo(f"planner {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Connection-budget capacity planner for PostgreSQL on AWS RDS and Aurora.

    \b
    Examples:
      planner check shop.yaml            # the CI gate
      planner plan shop.yaml             # which instance class holds it
      planner explain shop.yaml          # the arithmetic, written out
      planner report shop.yaml           # an HTML report for review
      planner recommend shop.yaml        # options that close a gap
      planner diff git:origin/main:shop.yaml shop.yaml   # the change in a pull request
      planner catalog show db.m6g.large  # one class's budget
    """


# The command groups, one module each; each registers its commands on import, in --help's order.
GROUPS = ("budget", "catalog", "fix", "live", "aws", "deployed")
# The modules a command word needs: `planner check` builds its own command only, not all thirty (the
# CI gate's start-up, issue 14). tests/cli/test_cli.py holds this table to what each module registers.
COMMAND_GROUPS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("check", "plan", "explain", "diff", "report"), ("budget",)),
    **dict.fromkeys(("recommend", "emit"), ("fix",)),
    **dict.fromkeys(("inspect", "verify"), ("live",)),
    "catalog": ("catalog", "aws"),
    "import": ("aws", "deployed"),
    "observe": ("aws",),
}


def register(args: Sequence[str] = ()) -> None:
    """Register the commands ``args`` run (every command for --help, no command or an unknown one)."""
    word = next((a for a in args if not a.startswith("-")), None)
    for group in COMMAND_GROUPS.get(word or "", GROUPS):
        importlib.import_module(f"planner.cli.{group}")  # by name: the group modules import this one
    # modules imported by earlier calls in this process keep --help's order
    order = {f"planner.cli.{group}": i for i, group in enumerate(GROUPS)}
    app.registered_commands.sort(key=lambda c: order.get(getattr(c.callback, "__module__", ""), len(order)))


def _command_of(args: list[str]) -> str:
    """Return the (sub)command the user typed, e.g. ``planner check`` or ``planner import rds``."""
    words = [a for a in args[:2] if not a.startswith("-")]
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    if words and words[0] in commands:
        sub = getattr(commands[words[0]], "commands", {})
        if len(words) > 1 and words[1] in sub:
            return f"planner {words[0]} {words[1]}"
        return f"planner {words[0]}"
    return "planner"


def _help_for(args: list[str]) -> str:
    """Return the help command for the subcommand the user typed, e.g. ``planner check --help``."""
    return f"{_command_of(args)} --help"


# The libraries of pyproject's extras, by the top-level name they are imported under: (the distribution
# to install, its extra). The base install carries only what `planner check` needs (the pre-commit hook's
# environment), so a command that needs one of these says which extra brings it.
# tests/cli/test_extras.py holds this table to pyproject.toml.
EXTRA_OF_MODULE = {
    "jinja2": ("jinja2", "report"),
    "matplotlib": ("matplotlib", "report"),
    "boto3": ("boto3", "aws"),
    "botocore": ("boto3", "aws"),
    "psycopg": ("psycopg", "postgres"),
    "ruamel": ("ruamel.yaml", "edit"),
    "tomlkit": ("tomlkit", "edit"),
    "pandas": ("pandas", "observed"),
    "numpy": ("pandas", "observed"),  # planner/live/trend.py imports numpy first; pandas brings it
}


def _missing_extra(exc: ModuleNotFoundError, args: list[str]) -> Optional[str]:
    """Return the line that names the extra to install for the missing module, or None if no extra has it."""
    known = EXTRA_OF_MODULE.get((exc.name or "").partition(".")[0])
    if known is None:
        return None
    distribution, extra = known
    return (f"{_command_of(args)} needs {distribution}, which is not installed: pip install 'planner[{extra}]' "
            "(or 'planner[all]' for every command)")


def main(argv: Optional[list[str]] = None) -> None:
    """Run the CLI: catch planner errors and usage errors, print one line each, exit with the code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    register(args)
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="planner", standalone_mode=False)
    except PlannerError as exc:
        if debug:
            raise
        for line in exc.lines():
            print(f"planner: {line}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except ModuleNotFoundError as exc:  # a library of an extra the installation lacks
        line = _missing_extra(exc, args)
        if debug or line is None:
            raise
        print(f"planner: {line}", file=sys.stderr)
        sys.exit(EXIT_INPUT)
    except typer.Exit as exc:  # raised from callbacks such as --version
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("planner: aborted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors (bad flags, missing arguments)
        if debug:
            raise
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"planner: {message} (see '{_help_for(args)}')", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
