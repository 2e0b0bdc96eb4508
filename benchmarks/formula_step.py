"""Time fe_regression and its formula step on the 2,000,000 firm-year balanced design.

Two-way fixed effects, CRV1 by firm (the design and estimator call of ``make bench``).  Pass
the root of another checkout to time that one instead, so that two versions can be compared in
alternation on a busy machine (wall times vary there; CPU times less)::

    .venv/bin/python benchmarks/formula_step.py [ROOT] [--reps 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    sys.path[:0] = [args.root, str(Path(args.root) / "benchmarks")]
    import gvcpanel
    from designs import FORMULA, make_design
    from gvcpanel.formula import frame as formula_frame
    from gvcpanel.models.linear import fe_regression

    frame = make_design("balanced", 200_000)

    def evaluate():
        if hasattr(formula_frame, "derived_of"):  # the formula layer of issue 9
            return formula_frame.evaluate(frame, FORMULA, ["cluster_id"])
        from gvcpanel.formula.design import parse_formula  # the layout before it

        dependent, terms = parse_formula(FORMULA)
        return formula_frame.evaluate(frame, dependent, terms, ["cluster_id"])

    def fit():
        return fe_regression(frame, FORMULA, effects=("firm", "year"), cluster="firm_id")

    fit(), evaluate()  # warm-up
    wall_fit, cpu_fit, wall_eval = [], [], []
    for _ in range(args.reps):
        start = time.perf_counter()
        evaluate()
        wall_eval.append(time.perf_counter() - start)
        cpu, start = time.process_time(), time.perf_counter()
        fit()
        wall_fit.append(time.perf_counter() - start)
        cpu_fit.append(time.process_time() - cpu)
    print(f"{gvcpanel.__file__}: fe_regression wall median {statistics.median(wall_fit):.3f} s "
          f"(min {min(wall_fit):.3f}), CPU median {statistics.median(cpu_fit):.3f} s; formula step wall "
          f"median {statistics.median(wall_eval):.3f} s (min {min(wall_eval):.3f})")


if __name__ == "__main__":
    main()
