"""Registries: the only lists of things that can be chosen by name.

A registry maps a name to a class plus the facts the CLI, the API and the UIs show about it
(one-line description, kind, whether it needs weights, options taken from the constructor).
CLI choices, API enums, UI menus and the shared model test all read from a registry; nothing else
keeps a list of names. (timm's ``register_model`` / ``create_model`` / ``list_models``.)
"""

from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    description: str
    kind: str = ""
    needs_weights: bool = False
    #: Higher wins when a caller asks for "the best available" entry (e.g. ``inpaintkit run`` without --model).
    priority: int = 0
    #: A learned inpainter whose weights ship in the package: available without a checkpoint.
    bundled: bool = False
    #: A model that takes a caption (text-guided fills).
    text_guided: bool = False

    def options(self) -> dict[str, Any]:
        """Keyword options of the registered callable with their defaults (``None`` if required).

        For a class, a constructor that forwards ``**kwargs`` to its parent also offers the parent's options, except
        those the class lists in ``hidden_options`` (a subclass that fixes them itself).
        """
        targets = (
            [c.__init__ for c in self.obj.__mro__ if "__init__" in vars(c) and c is not object]
            if inspect.isclass(self.obj)
            else [self.obj]
        )
        out: dict[str, Any] = {}
        for target in targets:
            more = False
            for p in inspect.signature(target).parameters.values():
                if p.kind == p.VAR_KEYWORD:
                    more = True
                if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    continue
                out.setdefault(p.name, None if p.default is inspect.Parameter.empty else p.default)
            if not more:
                break
        for hidden in getattr(self.obj, "hidden_options", ()):  # set by a subclass, not the user's to choose
            out.pop(hidden, None)
        return out


class Registry(Generic[T]):
    """Name -> Entry. ``what`` names the things for error messages ("inpainter", "mask kind", ...)."""

    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self,
        name: str,
        *,
        description: str,
        kind: str = "",
        needs_weights: bool = False,
        priority: int = 0,
        bundled: bool = False,
        text_guided: bool = False,
    ) -> Callable[[T], T]:
        """Class/function decorator adding ``obj`` under ``name``; the keyword facts are ``Entry``'s fields (an
        unknown one is a ``TypeError``, not a silently kept extra)."""

        def deco(obj: T) -> T:
            if name in self._entries and self._entries[name].obj is not obj:
                raise ValueError(f"{self.what} {name!r} registered twice")
            self._entries[name] = Entry(
                name, obj, description, kind, needs_weights, priority, bundled=bundled, text_guided=text_guided
            )
            return obj

        return deco

    def get(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(f"unknown {self.what} {name!r}; choose from: {', '.join(self.names())}") from None

    def names(self, pattern: str | None = None) -> list[str]:
        names = sorted(self._entries)
        return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def best(self, available: Callable[[Entry[T]], bool] = lambda e: True) -> Entry[T]:
        """Highest-priority entry for which ``available`` holds."""
        cands = [e for e in self.entries() if available(e)]
        if not cands:
            raise UnknownNameError(f"no {self.what} is available")
        return max(cands, key=lambda e: e.priority)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
