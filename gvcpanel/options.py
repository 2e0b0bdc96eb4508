"""Checks of what users pass to public functions (options, and numbers a model cannot take),
shared so that every function says the same thing about the same mistake.

Each check returns the value in its normal form (a tuple for a sequence of names, a float for a
level) or raises :class:`~gvcpanel.errors.SpecificationError` naming the option, the value
given and what to write instead.  ``name`` is the option as the caller's user knows it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from gvcpanel.errors import SpecificationError


def is_integer(value: Any) -> bool:
    """An integer (Python or numpy) that is not a bool."""
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """A real number (Python or numpy) that is not a bool."""
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def check_level(level: Any, name: str = "level") -> float:
    """A confidence level strictly between 0 and 1."""
    if is_real(level) and math.isfinite(level) and 0 < level < 1:
        return float(level)
    hint = ""
    if is_real(level) and 1 < level < 100:
        hint = f" ({level:g} reads as a percentage: write {level / 100:g})"
    raise SpecificationError(
        f"{name}={level!r} is not a confidence level; use a number strictly between 0 and 1, "
        f"e.g. {name}=0.95 for 95% intervals{hint}."
    )


def check_alpha(alpha: Any, name: str = "alpha") -> float:
    """A significance level in (0, 0.5).

    A one-sided test at 0.5 or above would call an estimate of the expected sign "supported"
    whatever its precision, which is never what a significance level means.
    """
    if is_real(alpha) and math.isfinite(alpha) and 0 < alpha < 0.5:
        return float(alpha)
    hint = ""
    if is_real(alpha) and 0.5 <= alpha < 1:
        hint = f" ({alpha:g} looks like a confidence level: the significance level is {1 - alpha:.4g})"
    raise SpecificationError(
        f"{name}={alpha!r} is not a significance level; use a number above 0 and below 0.5, "
        f"e.g. {name}=0.05{hint}."
    )


def check_choice(value: Any, choices: Sequence[Any], name: str) -> Any:
    """``value`` if it is one of ``choices``, else an error listing them."""
    try:
        known = value in choices
    except TypeError:  # unhashable or not comparable
        known = False
    if not known:
        listed = ", ".join(repr(c) for c in choices)
        raise SpecificationError(f"{name}={value!r} is not known; choose one of {listed}.")
    return value


def check_bool(value: Any, name: str) -> bool:
    """True or False (numpy booleans too); strings such as "no" are refused, not read as True."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise SpecificationError(f"{name}={value!r}; use True or False.")


def check_positive(value: Any, name: str, *, integer: bool = False) -> float | int:
    """A finite number above zero (an integer when ``integer``)."""
    ok = is_integer(value) if integer else is_real(value) and math.isfinite(value)
    if ok and value > 0:
        return int(value) if integer else float(value)
    kind = "a positive integer" if integer else "a positive finite number"
    raise SpecificationError(f"{name}={value!r}; use {kind}.")


def check_names(value: Any, name: str, *, allow_empty: bool = True, example: str = "'firm'") -> tuple[str, ...]:
    """One name or a sequence of names, as a tuple; ``"firm"`` means ``("firm",)``, not its letters."""
    names = (value,) if isinstance(value, str) else value
    if isinstance(names, Sequence) and all(isinstance(n, str) and n.strip() for n in names):
        if names or allow_empty:
            return tuple(n.strip() for n in names)
    raise SpecificationError(
        f"{name}={value!r}; give a name or a sequence of names, e.g. {name}={example} or "
        f"{name}=({example},)."
    )


def check_cluster(cluster: Any, name: str = "cluster") -> tuple[str, ...] | None:
    """None, a column name or a sequence of column names, as a tuple of names.

    ``"firm"`` is the panel's ``firm_id`` index, as in formulas and ``effects=``.
    """
    if cluster is None:
        return None
    names = (cluster,) if isinstance(cluster, str) else cluster
    if isinstance(names, Sequence) and names and all(isinstance(n, str) and n.strip() for n in names):
        return tuple("firm_id" if n.strip() == "firm" else n.strip() for n in names)
    raise SpecificationError(
        f"{name}={cluster!r}: name the clustering variable as a column name (cluster='cluster_id'), "
        "a sequence of two names for two-way clustering (('firm_id', 'year')) or None."
    )


def check_magnitudes(values: np.ndarray, names: Sequence[str], what: str) -> None:
    """Refuse columns whose sum of squares overflows double precision (values beyond ~1.3e154).

    Least squares, absorption, information matrices and every sandwich work with sums of squares
    and cross-products; such a column would otherwise surface as NaN estimates, a convergence
    failure or a LinAlgError.  ``what`` names the model (``"the regression"``, ``"the hazard"``).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        squares = np.einsum("ij,ij->j", values, values)
    check_squares(squares, values, names, what)


def check_squares(squares: np.ndarray, values: np.ndarray, names: Sequence[str], what: str) -> None:
    """:func:`check_magnitudes` given the columns' sums of squares (computed in another pass)."""
    bad = np.flatnonzero(~np.isfinite(squares))
    if bad.size:
        listed = ", ".join(f"{names[j]!r} (largest |value| {np.max(np.abs(values[:, j])):.3g})" for j in bad)
        raise SpecificationError(
            f"{listed}: values this large overflow double precision in sums of squares (above about "
            f"1e154), so {what} cannot be computed. Rescale the variable (divide it by a power of ten, "
            "or take its log) and fit again."
        )
