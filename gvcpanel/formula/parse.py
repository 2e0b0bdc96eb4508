"""Read a model formula: formulaic's Wilkinson grammar plus panel syntax.

``"y ~ x1 + x2 | firm + year"`` is split at ``|`` into the regression formula and the absorbed
effects.  The regression part is parsed by :class:`formulaic.Formula`, so the term algebra is the
one R, patsy and formulaic share: ``a*b*c`` is the seven terms ``a + b + c + a:b + a:c + b:c +
a:b:c``, ``(a + b)**2`` the main effects and their interaction, ``a*b - a:b`` removes a term,
``- 1`` / ``+ 0`` drop the intercept, and terms come in formulaic's order (by degree, then as
written).  Each factor of a term is then classified:

================  ==================================================================================
``x``             a column (or a name the caller derives, see :mod:`gvcpanel.formula.evaluate`);
                  text and categorical columns become dummies
``log(x)``        natural logarithm; ``log1p(x)``: log(1 + x)
``C(x)``          x as categorical (dummies), whatever its type
``i(x, ref=r)``   dummies of every level of x except ``r`` (pyfixest's ``i()``); ``i(x, z, ref=r)``
                  those dummies times the numeric column z; ``ref`` may be omitted (all levels)
``l(x, k)``       x in year t - k of the same firm (k = 1 when omitted); ``f(x, k)``: year t + k;
                  ``d(x)``: x - l(x, 1) (``d(x, k)``: x - l(x, k)); x may be ``log(col)``
``I(...)``, ...   any other expression formulaic can evaluate (``I(x**2)``, ``poly(x, 2)``,
                  ``center(x)``); formulaic evaluates it
================  ==================================================================================

The effects part is a ``+``-list of names, each a column or an interaction ``a^b`` (``a#b`` is a
synonym); ``firm`` means ``firm_id``.  Parsing looks only at the string, so its result is cached.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache

from gvcpanel.errors import SpecificationError

#: short names accepted for the panel's index levels
ALIASES = {"firm": "firm_id"}
#: functions evaluated here on numpy arrays; every other call goes to formulaic
NATIVE = ("log", "log1p", "C", "i", "l", "f", "d")
KINDS = ("column", "log", "log1p", "categorical", "i", "lag", "lead", "diff", "python")


@dataclass(frozen=True)
class Factor:
    """One factor of a term.

    Attributes
    ----------
    expr : str
        The factor as formulaic writes it (``"log(employees)"``, ``"l(x, 1)"``); it names the
        column(s) of the design.
    kind : str
        One of :data:`KINDS`.
    column : str or None
        The data column the factor reads (``x`` in ``log(x)``, ``C(x)``, ``i(x, ...)``); None
        for panel operators and formulaic expressions.
    inner : Factor or None
        The argument of a panel operator (``log(x)`` in ``l(log(x), 2)``).
    order : int
        The k of ``l(x, k)``, ``f(x, k)``, ``d(x, k)``.
    by : str or None
        The numeric column of ``i(x, z, ref=...)``.
    ref : tuple
        ``(r,)`` when ``i()`` has a reference level, else ``()``.
    variables : tuple of str
        Names a formulaic expression reads (kind ``"python"``).
    """

    expr: str
    kind: str
    column: str | None = None
    inner: "Factor | None" = None
    order: int = 0
    by: str | None = None
    ref: tuple = ()
    variables: tuple[str, ...] = ()

    def reads(self) -> tuple[str, ...]:
        """Every data column the factor reads, in order."""
        if self.inner is not None:
            return self.inner.reads()
        if self.kind == "python":
            return self.variables
        names = (self.column,) + ((self.by,) if self.by else ())
        return tuple(n for n in names if n)

    def reads_current_row(self) -> tuple[str, ...]:
        """Columns that must be observed in the row itself (a lag reads only other years)."""
        if self.kind in ("lag", "lead"):
            return ()
        return self.reads()


@dataclass(frozen=True)
class Term:
    """A product of factors; ``name`` is formulaic's (``"a:log(b)"``)."""

    factors: tuple[Factor, ...]

    @property
    def name(self) -> str:
        return ":".join(f.expr for f in self.factors)


@dataclass(frozen=True)
class ParsedFormula:
    """A formula read into its outcome, terms, intercept and absorbed effects.

    ``effects`` is None when the formula has no ``|`` part (the estimator then uses its own
    ``effects=`` argument), else the effect names with ``firm_id`` written ``firm``.
    """

    formula: str
    dependent: Factor
    terms: tuple[Term, ...]
    intercept: bool
    effects: tuple[str, ...] | None

    @property
    def term_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.terms)

    def factors(self) -> tuple[Factor, ...]:
        """Distinct factors of the outcome and the terms, in order of appearance."""
        seen: dict[str, Factor] = {self.dependent.expr: self.dependent}
        for term in self.terms:
            for factor in term.factors:
                seen.setdefault(factor.expr, factor)
        return tuple(seen.values())

    def columns(self) -> tuple[str, ...]:
        """Data columns the formula reads (outcome first; effects last), without repeats."""
        names = [c for f in self.factors() for c in f.reads()]
        for effect in self.effects or ():
            names += effect_columns(effect)
        return tuple(dict.fromkeys(names))


def canonical(name: str) -> str:
    """``firm`` -> ``firm_id``; other names unchanged."""
    return ALIASES.get(name, name)


def effect_columns(effect: str) -> list[str]:
    """Columns (or index levels) an effect reads: ``"cluster_id^year"`` -> both."""
    return [canonical(p.strip()) for p in effect.replace("#", "^").split("^")]


def effect_label(effect: str) -> str:
    """An effect written with ``firm`` for ``firm_id`` and ``^`` between interacted names."""
    short = {v: k for k, v in ALIASES.items()}
    return "^".join(short.get(p, p) for p in effect_columns(effect))


def parse_formula(formula: str, *, outcome_as_term: bool = False) -> ParsedFormula:
    """Read ``"outcome ~ terms [| effects]"`` (see the module docstring).

    An outcome that is also a term (``y ~ x + y``, ``y ~ x:y``) is refused unless
    ``outcome_as_term`` (an estimator that uses the outcome as a stand-in term and drops it);
    a lag ``l(y, 1)`` is another expression and always allowed.

    Raises
    ------
    SpecificationError
        One line naming the formula (or its term) and what is wrong.

    Examples
    --------
    >>> parsed = parse_formula("y ~ a*b*c | firm + cluster_id^year")
    >>> parsed.term_names
    ('a', 'b', 'c', 'a:b', 'a:c', 'b:c', 'a:b:c')
    >>> parsed.effects
    ('firm', 'cluster_id^year')
    """
    if not isinstance(formula, str):
        raise SpecificationError(
            f"a formula is a string such as 'y ~ x1 + x2 | firm + year'; found {type(formula).__name__}."
        )
    parsed = _parse(formula.strip())
    if not outcome_as_term:
        _check_outcome_not_a_term(parsed)
    return parsed


def _check_outcome_not_a_term(parsed: ParsedFormula) -> None:
    # y on both sides fits itself perfectly (coefficient 1, every other one 0) and hides the
    # mistake behind plausible output
    outcome = parsed.dependent.expr
    for term in parsed.terms:
        if any(f.expr == outcome for f in term.factors):
            raise SpecificationError(
                f"formula {parsed.formula!r}: the outcome {outcome!r} is also a regressor (term "
                f"{term.name!r}); remove it from the right-hand side (for a lagged outcome write "
                f"l({outcome}, 1))."
            )


@lru_cache(maxsize=512)
def _parse(formula: str) -> ParsedFormula:
    tilde = _top_level(formula, "~")
    if len(tilde) != 1:
        raise SpecificationError(
            f"formula {formula!r} needs one '~'; write it as 'outcome ~ term + term', for example "
            "'y ~ x1 + log(x2) | firm + year'."
        )
    lhs, rhs = formula[: tilde[0]].strip(), formula[tilde[0] + 1 :].strip()
    bars = _top_level(rhs, "|")
    if len(bars) > 1:
        raise SpecificationError(f"formula {formula!r} has {len(bars)} '|'; write one: 'y ~ terms | effects'.")
    effects = None
    if bars:
        rhs, effects_text = rhs[: bars[0]].strip(), rhs[bars[0] + 1 :].strip()
        effects = _effects(formula, effects_text)
    if not lhs or not rhs:
        raise SpecificationError(
            f"formula {formula!r} needs an outcome and at least one term, as in 'y ~ x1 + x2'."
        )
    from formulaic import Formula
    from formulaic.errors import FormulaicError

    try:
        parsed = Formula(f"{lhs} ~ {rhs}")
    except (FormulaicError, SyntaxError) as e:  # formulaic lets Python's SyntaxError through
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SpecificationError(f"formula {formula!r} cannot be read: {reason}") from e
    lhs_terms = list(parsed.lhs)
    if len(lhs_terms) != 1 or len(lhs_terms[0].factors) != 1:
        raise SpecificationError(
            f"formula {formula!r}: the outcome must be one column or one transformed column "
            f"(such as log(y)); found {str(parsed.lhs)!r}."
        )
    dependent = _factor(formula, lhs_terms[0].factors[0])
    if dependent.kind in ("categorical", "i"):
        raise SpecificationError(f"formula {formula!r}: the outcome {dependent.expr!r} must be numeric, not dummies.")
    intercept = False
    terms: list[Term] = []
    for term in parsed.rhs:
        factors = list(term.factors)
        if len(factors) == 1 and factors[0].eval_method.value == "literal":
            if factors[0].expr != "1":
                raise SpecificationError(
                    f"formula {formula!r}: the constant {factors[0].expr!r} is not a term; write 1 or 0 for "
                    "the intercept, or I(...) for a computed column."
                )
            intercept = True
            continue
        terms.append(Term(tuple(_factor(formula, factor) for factor in factors)))
    if not terms:
        raise SpecificationError(f"formula {formula!r} has no regressor; add at least one term after '~'.")
    return ParsedFormula(formula, dependent, tuple(terms), intercept, effects)


def _top_level(text: str, symbol: str) -> list[int]:
    """Positions of ``symbol`` outside brackets and quotes."""
    depth, quote, out = 0, "", []
    for pos, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == symbol and depth == 0:
            out.append(pos)
    return out


def _effects(formula: str, text: str) -> tuple[str, ...]:
    effects: list[str] = []
    for part in text.split("+"):
        names = [p.strip() for p in part.replace("#", "^").split("^")]
        if not all(n.isidentifier() for n in names):
            raise SpecificationError(
                f"formula {formula!r}: the effect {part.strip()!r} is not a column name or an interaction "
                "a^b; write effects as 'firm + year' or 'firm + cluster_id^year'."
            )
        label = effect_label("^".join(names))
        if label not in effects:
            effects.append(label)
    return tuple(effects)


def _factor(formula: str, factor) -> Factor:
    """Classify one formulaic factor."""
    method = factor.eval_method.value
    expr = str(factor.expr)
    if method == "lookup":
        return Factor(expr, "column", column=expr)
    if method == "literal":
        raise SpecificationError(
            f"formula {formula!r}: the constant {expr!r} cannot enter a term; use I(...) for computed columns."
        )
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError as e:  # formulaic accepted it; Python may not (then formulaic evaluates it)
        raise SpecificationError(f"formula {formula!r}: term {expr!r} is not a valid expression.") from e
    return _classify(formula, expr, node)


def _classify(formula: str, expr: str, node: ast.expr) -> Factor:
    if isinstance(node, ast.Name):
        return Factor(expr, "column", column=node.id)
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in NATIVE):
        return Factor(expr, "python", variables=_names(node))
    name = node.func.id
    args, keywords = node.args, {k.arg: k.value for k in node.keywords}

    def fail(usage: str) -> SpecificationError:
        return SpecificationError(f"formula {formula!r}: term {expr!r} is not understood; write {usage}.")

    if name in ("log", "log1p"):
        if len(args) != 1 or keywords or not isinstance(args[0], ast.Name):
            # log(x + 1) and friends: formulaic evaluates them
            return Factor(expr, "python", variables=_names(node))
        return Factor(expr, name, column=args[0].id)
    if name == "C":
        if len(args) != 1 or keywords or not isinstance(args[0], ast.Name):
            raise fail("C(column); to choose the base level use i(column, ref=level)")
        return Factor(expr, "categorical", column=args[0].id)
    if name == "i":
        if not 1 <= len(args) <= 2 or set(keywords) - {"ref"} or not all(isinstance(a, ast.Name) for a in args):
            raise fail("i(column, ref=level) or i(column, numeric_column, ref=level)")
        ref = (_literal(formula, expr, keywords["ref"]),) if "ref" in keywords else ()
        by = args[1].id if len(args) == 2 else None
        return Factor(expr, "i", column=args[0].id, by=by, ref=ref)
    # panel operators l(x, k), f(x, k), d(x, k)
    usage = f"{name}(column, k) with a whole number k >= 1 (k = 1 when omitted)"
    if not 1 <= len(args) <= 2 or set(keywords) - {"k"} or (len(args) == 2 and "k" in keywords):
        raise fail(usage)
    k_node = args[1] if len(args) == 2 else keywords.get("k")
    order = 1
    if k_node is not None:
        value = _literal(formula, expr, k_node)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise fail(usage)
        order = value
    inner = _classify(formula, ast.unparse(args[0]), args[0])
    if inner.kind not in ("column", "log", "log1p"):
        raise fail(f"{name}(column, k) or {name}(log(column), k)")
    kind = {"l": "lag", "f": "lead", "d": "diff"}[name]
    return Factor(expr, kind, inner=inner, order=order)


def _literal(formula: str, expr: str, node: ast.expr):
    """A reference level or order: a number, a quoted string or a bare name (read as text)."""
    if isinstance(node, ast.Name):
        return node.id
    try:
        return ast.literal_eval(node)
    except ValueError as e:
        raise SpecificationError(
            f"formula {formula!r}: term {expr!r} needs a plain value (number or quoted text) for "
            f"{ast.unparse(node)!r}."
        ) from e


def _names(node: ast.expr) -> tuple[str, ...]:
    """Names an expression reads, leaving out called functions and module attributes."""
    called = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    bases = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in called | bases]
    return tuple(dict.fromkeys(names))
