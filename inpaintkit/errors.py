"""The one exception type a user can cause.

Everything a user can get wrong (a bad file, a wrong size, a bad flag, a bad request) raises
``InpaintKitError`` with a one-line message that names the thing and what to do. The CLI prints it
as ``error: <message>`` and exits non-zero; the server turns it into a 4xx ``{"detail": ...}``.
Anything else escaping is a bug in inpaintkit.
"""

from __future__ import annotations


class InpaintKitError(Exception):
    """A user-fixable problem. ``str(err)`` is a single line meant for the user."""

    #: HTTP status the server answers with (400 bad request, 404 unknown name, 413 too large).
    status_code: int = 400

    def __init__(self, message: str, *, status_code: int | None = None):
        super().__init__(" ".join(str(message).split()))  # always one line
        if status_code is not None:
            self.status_code = status_code


class UnknownNameError(InpaintKitError):
    """A registry lookup with a name that is not registered."""

    status_code = 404


class TooLargeError(InpaintKitError):
    """An input above a configured size or pixel limit."""

    status_code = 413
