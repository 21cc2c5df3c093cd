"""The ``inpaintkit`` command line (typer). Each sub-module adds its commands to ``app``.

``main`` turns user errors (``InpaintKitError``, bad flags) into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import sys

import click
import typer

from ..errors import InpaintKitError

try:  # typer >= 0.2x vendors its own copy of click: its usage errors are not click's classes
    from typer._click.exceptions import ClickException as _TyperClickException
except ImportError:  # pragma: no cover - older typer raises click's own
    _TyperClickException = click.ClickException
_EXIT = (click.exceptions.Exit, typer.Exit)
_CLICK_ERRORS = (click.ClickException, _TyperClickException)
_ABORT = (click.exceptions.Abort, typer.Abort)

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Image inpainting and its evaluation.",
)

from . import evaluate as _evaluate  # noqa: E402,F401
from . import export as _export  # noqa: E402,F401
from . import forensics as _forensics  # noqa: E402,F401
from . import masks as _masks  # noqa: E402,F401
from . import run as _run  # noqa: E402,F401  (command registration)
from . import serve as _serve  # noqa: E402,F401
from . import train as _train  # noqa: E402,F401


def main(argv: list[str] | None = None) -> None:
    """Console entry point. Exit codes, for every command: 0 success; 1 some inputs of a batch failed (each
    reported) while the others were written; 2 a user error, nothing done (bad flag or file, every input failed)."""
    try:
        rv = app(args=argv, prog_name="inpaintkit", standalone_mode=False)
    except InpaintKitError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except _EXIT as e:
        sys.exit(e.exit_code)
    except _CLICK_ERRORS as e:
        e.show()
        sys.exit(e.exit_code)
    except _ABORT:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
