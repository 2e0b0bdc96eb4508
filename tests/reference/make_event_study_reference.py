"""Reference numbers for the Callaway-Sant'Anna estimator: moderndid on the mpdta data.

mpdta (Callaway and Sant'Anna 2021; shipped by the R package ``did`` and by moderndid) is a
balanced county panel 2003-2007: log teen employment ``lemp``, log population ``lpop`` and the
year of the first minimum-wage rise ``first.treat`` (0 = never).  This script runs moderndid's
``att_gt`` (analytic standard errors: ``boot=False``) and ``aggte`` for every combination the
tests compare and writes ``mpdta_moderndid.csv`` with the versions in
``mpdta_moderndid_versions.txt``.  Run from the repository root:
``.venv/bin/python tests/reference/make_event_study_reference.py``.  The tests read the CSV and
the data (``moderndid.core.data.load_mpdta``); they never run this script.
"""

from __future__ import annotations

import platform
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

import moderndid as md
from moderndid.core.data import load_mpdta

HERE = Path(__file__).parent
SPECS = [  # (xformla, est_method, control_group, base_period)
    ("~1", "dr", "nevertreated", "varying"),
    ("~1", "dr", "notyettreated", "universal"),
    ("~lpop", "dr", "nevertreated", "varying"),
    ("~lpop", "dr", "notyettreated", "varying"),
    ("~lpop", "dr", "nevertreated", "universal"),
    ("~lpop", "reg", "nevertreated", "varying"),
    ("~lpop", "reg", "notyettreated", "universal"),
    ("~lpop", "ipw", "nevertreated", "varying"),
    ("~lpop", "ipw", "notyettreated", "varying"),
]


def main() -> None:
    data = load_mpdta()
    rows = []
    for xformla, method, control, base in SPECS:
        spec = f"{xformla}|{method}|{control}|{base}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gt = md.att_gt(data=data, yname="lemp", tname="year", idname="countyreal", gname="first.treat",
                           xformla=xformla, est_method=method, control_group=control, base_period=base,
                           boot=False, cband=False)
            for g, t, att, se in zip(gt.groups, gt.times, gt.att_gt, gt.se_gt):
                rows.append((spec, "cells", f"g={int(g)},t={int(t)}", att, se))
            for kind, agg_type, prefix in (("event_time", "dynamic", "e"), ("cohort", "group", "g"),
                                           ("calendar", "calendar", "t")):
                agg = md.aggte(gt, type=agg_type, boot=False, cband=False)
                for key, att, se in zip(agg.event_times, agg.att_by_event, agg.se_by_event):
                    rows.append((spec, kind, f"{prefix}={int(key)}", att, se))
                rows.append((spec, f"overall_{kind}", "ATT", agg.overall_att, agg.overall_se))
            simple = md.aggte(gt, type="simple", boot=False, cband=False)
            rows.append((spec, "overall_simple", "ATT", simple.overall_att, simple.overall_se))
    out = pd.DataFrame(rows, columns=["spec", "aggregation", "term", "estimate", "std_error"])
    out.to_csv(HERE / "mpdta_moderndid.csv", index=False, float_format="%.12g")
    (HERE / "mpdta_moderndid_versions.txt").write_text(
        f"moderndid {version('moderndid')}\nnumpy {np.__version__}\npandas {pd.__version__}\n"
        f"scipy {version('scipy')}\nstatsmodels {version('statsmodels')}\npolars {version('polars')}\n"
        f"python {platform.python_version()}\n"
        "command: .venv/bin/python tests/reference/make_event_study_reference.py\n"
        "att_gt(..., yname='lemp', tname='year', idname='countyreal', gname='first.treat', boot=False, "
        "cband=False) and aggte(type=..., boot=False, cband=False); std_error empty where moderndid "
        "reports NA (reference cells).\n"
    )


if __name__ == "__main__":
    main()
