"""Command line exit codes and output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gvcpanel.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def valid_csv(tmp_path):
    path = tmp_path / "ok.csv"
    pd.DataFrame({"firm_id": ["a", "a", "b"], "year": [2001, 2002, 2001],
                  "cluster_id": [1, 1, 2], "governance": ["market", "network", None]}
                 ).to_csv(path, index=False)
    return path


def test_validate_valid_file_exits_0(valid_csv, capsys):
    assert main(["validate", str(valid_csv)]) == 0
    out = capsys.readouterr().out
    assert "valid. 3 firm-years, 2 firms, years 2001-2002" in out


def test_validate_invalid_file_exits_1_and_lists_problems(capsys):
    assert main(["validate", str(FIXTURES / "five_problems.csv")]) == 1
    out = capsys.readouterr().out
    assert "6 problem(s)" in out
    for text in ["firm_id=F001, year=2011", "firm_id=F002, year=2010", "firm_id=F002, year=2011",
                 "firm_id=F003, year=2010", "firm_id=F003, year=2011", "How to fix"]:
        assert text in out


def test_validate_show_limits_the_listing(capsys):
    assert main(["validate", str(FIXTURES / "five_problems.csv"), "--show", "2"]) == 1
    assert "and 4 more problem(s)" in capsys.readouterr().out


def test_validate_with_mapping(capsys):
    assert main(["validate", str(FIXTURES / "wbes_panel.csv"), "--mapping", "wbes"]) == 0
    assert "7 value(s) set to missing" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    assert main(["validate", str(FIXTURES / "wbes_panel.csv"), "--mapping", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["validate"]) == 2
    assert main(["frobnicate", "x"]) == 2


def test_missing_input_is_an_io_error_exit_3(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "missing.csv")]) == 3
    assert "missing.csv: no such file" in capsys.readouterr().err


def test_help_documents_exit_codes_and_out(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for line in ("0  success", "1  invalid data", "2  usage or specification", "3  input/output",
                 "res/hyp_v1.2 writes res/hyp_v1.2.md"):
        assert line in text
    assert main(["hypotheses", "--help"]) == 0
    assert "3  input/output" in capsys.readouterr().out


def test_version(capsys):
    from gvcpanel import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"gvcpanel {__version__}"


@pytest.mark.parametrize(("error", "code"), [
    ("SchemaError", 1), ("PanelStructureError", 1), ("IdentificationError", 1), ("ConvergenceError", 1),
    ("SpecificationError", 2), ("OutputError", 3), ("OutputLockedError", 3),
])
def test_exit_code_of_each_package_error(error, code):
    import gvcpanel.errors as errors
    from gvcpanel.cli import exit_code

    assert exit_code(getattr(errors, error)("x")) == code
    assert exit_code(PermissionError(13, "Permission denied", "f.csv")) == 3


def test_missing_optional_dependency_is_a_usage_error():
    from gvcpanel.cli import exit_code
    from gvcpanel.errors import GvcPanelError

    class MissingExtra(GvcPanelError, ImportError):
        pass

    assert exit_code(MissingExtra("pip install gvcpanel[plots]")) == 2


def test_error_message_keeps_notes_and_names_the_file():
    from gvcpanel.cli import error_message
    from gvcpanel.errors import SchemaError

    exc = SchemaError("bad value")
    exc.add_note("out/ was left as it was")
    assert error_message(exc) == "bad value\nout/ was left as it was"
    assert error_message(IsADirectoryError(21, "Is a directory", "m.json")) == "m.json: Is a directory"


def test_describe(capsys):
    assert main(["describe", str(FIXTURES / "wbes_panel.csv"), "--mapping", "wbes"]) == 0
    out = capsys.readouterr().out
    assert "## Overview" in out and "| firms" in out and "## Missingness" in out
    assert "Values set to missing by the mapping" in out and "don't know" in out


def test_describe_invalid_exits_1(capsys):
    assert main(["describe", str(FIXTURES / "five_problems.csv")]) == 1
    assert "firm_id=F003" in capsys.readouterr().err


def test_installed_entry_point():
    exe = Path(sys.executable).parent / "gvcpanel"
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    done = subprocess.run([str(exe), "validate", str(FIXTURES / "five_problems.csv")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "duplicate key" in done.stdout
