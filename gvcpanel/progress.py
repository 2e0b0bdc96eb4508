"""Progress bars for long work: a bar on an interactive terminal, silence everywhere else.

Bootstraps with many draws, Monte Carlo studies and long loads report their progress through
:func:`progress`, which wraps an iterable in a :mod:`tqdm` bar when, and only when, progress is
on.  It is on when standard error is an interactive terminal, so scripts, notebooks' logs, CI,
pipes and files stay silent; three switches override that, the first that is set wins:

1. the ``progress=`` argument of a call (``True`` / ``False``);
2. the global option :func:`set_progress` (``gp.set_progress(False)``), also usable as a context
   manager for one block (``with progress_option(False): ...``);
3. the environment variable ``GVCPANEL_PROGRESS`` (``1``/``on``/``true`` or
   ``0``/``off``/``false``).

Bars are written to standard error and removed when the work ends (``leave=False``): nothing
is added to the output a user keeps.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

from gvcpanel.errors import SpecificationError

__all__ = ["ENVIRONMENT_VARIABLE", "progress", "progress_enabled", "progress_option", "set_progress"]

ENVIRONMENT_VARIABLE = "GVCPANEL_PROGRESS"
_TRUE = {"1", "on", "true", "yes"}
_FALSE = {"0", "off", "false", "no"}

#: the global option; None leaves the choice to the environment variable and the terminal
_option: list[bool | None] = [None]

T = TypeVar("T")


def set_progress(enabled: bool | None) -> None:
    """Turn progress bars on (True) or off (False) for the session; None restores the default
    (the ``GVCPANEL_PROGRESS`` variable, else on only for an interactive terminal).

    Examples
    --------
    >>> set_progress(False)
    >>> progress_enabled()
    False
    >>> set_progress(None)
    """
    if enabled not in (None, True, False):
        raise SpecificationError(f"set_progress takes True, False or None, not {enabled!r}.")
    _option[0] = enabled


@contextmanager
def progress_option(enabled: bool | None) -> Iterator[None]:
    """:func:`set_progress` for the duration of a ``with`` block only."""
    before = _option[0]
    set_progress(enabled)
    try:
        yield
    finally:
        _option[0] = before


def progress_enabled(show: bool | None = None, stream: TextIO | None = None) -> bool:
    """Whether a bar would be shown: the argument, the option, the variable, then the terminal.

    Parameters
    ----------
    show : bool, optional
        The caller's ``progress=`` argument.
    stream : file object, optional
        Where the bar goes (standard error by default); a bar is shown by default only when it
        is an interactive terminal.
    """
    if show is not None:
        if show not in (True, False):
            raise SpecificationError(f"progress={show!r}; use True, False or None (automatic).")
        return bool(show)
    if _option[0] is not None:
        return _option[0]
    value = os.environ.get(ENVIRONMENT_VARIABLE)
    if value is not None and value.strip():
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise SpecificationError(
            f"{ENVIRONMENT_VARIABLE}={value!r} is not understood; set it to 1/on/true or 0/off/false, or unset it."
        )
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):  # a closed or detached stream
        return False


def progress(
    iterable: Iterable[T],
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    show: bool | None = None,
    stream: TextIO | None = None,
    delay: float = 0.5,
    **options: Any,
) -> Iterable[T]:
    """The iterable itself when progress is off; a tqdm bar over it when it is on.

    Parameters
    ----------
    iterable : iterable
    total : int, optional
        Length when ``len(iterable)`` does not give it.
    desc, unit : str
        Label and unit of the bar (``"wild bootstrap"``, ``"term"``).
    show : bool, optional
        ``progress=`` of the calling function: True or False overrides every other switch.
    stream : file object, optional
        Standard error by default.
    delay : float
        Seconds before the bar appears, so that short work shows none (0 for at once).
    **options
        Further :class:`tqdm.tqdm` options (``mininterval``, ...).

    Examples
    --------
    >>> list(progress(range(3), show=False))
    [0, 1, 2]
    """
    if not progress_enabled(show, stream):
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, delay=delay,
                file=sys.stderr if stream is None else stream, dynamic_ncols=True, **options)
