"""The ``inpaintkit`` command line (typer). Each sub-module adds its commands to ``app``.

``main`` turns user errors (``InpaintKitError``, bad flags) into one line on stderr and a non-zero exit code.
"""
from __future__ import annotations

import sys

import click
import typer

from ..errors import InpaintKitError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Image inpainting and its evaluation.")

from . import run as _run  # noqa: E402,F401  (command registration)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: exit 0 on success, 1 when some files of a batch failed, 2 on a user error."""
    try:
        rv = app(args=argv, prog_name="inpaintkit", standalone_mode=False)
    except InpaintKitError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
