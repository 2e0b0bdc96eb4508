"""Misuse of the command line: one message on stderr, no traceback, the documented exit code.

Exit codes (``gvcpanel --help``): 0 ok, 1 invalid data, 2 usage or specification, 3 I/O. Every
case checks the code, that the message names the culprit (option, file, extension, process) and
that no output was written, replaced or left half-done.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from gvcpanel.cli import main
from gvcpanel.report.output import hold_lock

from .conftest import debris, snapshot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_message(err: str) -> bool:
    """No traceback; at most a usage block and one error."""
    return "Traceback" not in err and err.strip() != ""


# == usage (exit 2) ===========================================================================
def test_unknown_subcommand(capsys):
    code, _, err = cli(capsys, "frobnicate", "x.csv")
    assert code == 2 and "invalid choice: 'frobnicate'" in err and one_message(err)


def test_unknown_option(capsys, panel_csv):
    code, _, err = cli(capsys, "validate", panel_csv, "--colour", "red")
    assert code == 2 and "unrecognized arguments: --colour red" in err


def test_missing_path_argument(capsys):
    code, _, err = cli(capsys, "describe")
    assert code == 2 and "the following arguments are required: path" in err


def test_option_of_another_subcommand(capsys, panel_csv):
    code, _, err = cli(capsys, "validate", panel_csv, "--out", "x.md")
    assert code == 2 and "unrecognized arguments: --out x.md" in err


def test_non_integer_option(capsys, panel_csv):
    code, _, err = cli(capsys, "validate", panel_csv, "--show", "many")
    assert code == 2 and "argument --show: invalid int value: 'many'" in err


def test_unknown_choice(capsys, panel_csv):
    code, _, err = cli(capsys, "hypotheses", panel_csv, "--adjust", "bonferroni")
    assert code == 2 and "argument --adjust: invalid choice: 'bonferroni'" in err


def test_unknown_scheme(capsys, panel_csv):
    code, _, err = cli(capsys, "classify", panel_csv, "--scheme", "williamson")
    assert code == 2 and "argument --scheme: invalid choice: 'williamson'" in err


def test_unknown_inference(capsys, panel_parquet):
    code, _, err = cli(capsys, "hypotheses", panel_parquet, "--inference", "bayes")
    assert code == 2 and "bayes" in err and one_message(err)


def test_unknown_mapping_name(capsys):
    code, _, err = cli(capsys, "validate", FIXTURES / "wbes_panel.csv", "--mapping", "nope")
    assert code == 2 and "nope" in err and "wbes" in err and one_message(err)


def test_missing_mapping_file(capsys, tmp_path):
    missing = tmp_path / "my_mapping.json"
    code, _, err = cli(capsys, "validate", FIXTURES / "wbes_panel.csv", "--mapping", missing)
    assert code == 2 and str(missing) in err and one_message(err)


def test_missing_schema_file(capsys, tmp_path, panel_csv):
    missing = tmp_path / "mine.schema.json"
    code, _, err = cli(capsys, "validate", panel_csv, "--schema", missing)
    assert code == 2 and str(missing) in err and one_message(err)


def test_unknown_input_file_type(capsys, tmp_path):
    path = tmp_path / "panel.sav"
    path.write_text("x")
    code, _, err = cli(capsys, "describe", path)
    assert code == 2 and "'.sav'" in err and str(path) in err


@pytest.mark.parametrize("command", ["classify", "hypotheses"])
@pytest.mark.parametrize("extension", ["xlsx", "txt", "json"])
def test_out_with_a_file_type_it_cannot_write(capsys, tmp_path, panel_parquet, command, extension):
    # Refused before any work: nothing is loaded, nothing written.
    out = tmp_path / f"res.{extension}"
    code, stdout, err = cli(capsys, command, panel_parquet, "--out", out)
    assert code == 2 and f"--out {out}: cannot write .{extension}" in err
    assert stdout == "" and list(tmp_path.iterdir()) == []


def test_out_empty(capsys, panel_parquet, tmp_path):
    code, _, err = cli(capsys, "classify", panel_parquet, "--out", "")
    assert code == 2 and "--out is empty" in err


# == input/output (exit 3) =====================================================================
@pytest.mark.parametrize("command", ["validate", "describe", "classify", "hypotheses"])
def test_missing_input_file(capsys, tmp_path, command):
    missing = tmp_path / "firms.csv"
    code, _, err = cli(capsys, command, missing)
    assert code == 3 and f"{missing}: no such file or folder" in err and one_message(err)


def test_unreadable_input_file(capsys, panel_csv, monkeypatch):
    import builtins

    real = builtins.open

    def denied(file, *args, **kwargs):
        if str(file) == str(panel_csv):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)
    code, _, err = cli(capsys, "validate", panel_csv)
    assert code == 3 and f"{panel_csv}: Permission denied" in err and one_message(err)


@pytest.mark.parametrize("option", ["--mapping", "--schema"])
def test_folder_given_where_a_json_file_is_expected(capsys, tmp_path, panel_csv, option):
    folder = tmp_path / "mine.json"
    folder.mkdir()
    code, _, err = cli(capsys, "validate", panel_csv, option, folder)
    assert code == 3 and f"{folder}: Is a directory" in err and one_message(err)


def test_out_is_an_existing_folder(capsys, tmp_path, panel_parquet):
    code, _, err = cli(capsys, "classify", panel_parquet, "--out", tmp_path)
    assert code == 3 and f"--out {tmp_path} is a folder" in err
    assert list(tmp_path.iterdir()) == []


def test_out_with_trailing_slash(capsys, tmp_path, panel_parquet):
    code, _, err = cli(capsys, "hypotheses", panel_parquet, "--out", f"{tmp_path}/new/")
    assert code == 3 and "is a folder" in err and list(tmp_path.iterdir()) == []


def test_out_parent_is_a_file(capsys, tmp_path, panel_parquet):
    blocker = tmp_path / "results"
    blocker.write_text("notes")
    code, _, err = cli(capsys, "classify", panel_parquet, "--out", blocker / "c.parquet")
    assert code == 3 and f"{blocker} is a file" in err and blocker.read_text() == "notes"


def test_out_read_only_file(capsys, tmp_path, panel_parquet):
    target = tmp_path / "c.parquet"
    target.write_bytes(b"earlier")
    target.chmod(0o444)
    code, _, err = cli(capsys, "classify", panel_parquet, "--out", target)
    assert code == 3 and f"{target} is read-only" in err
    assert target.read_bytes() == b"earlier" and debris(tmp_path) == []


def test_out_read_only_folder(capsys, tmp_path, panel_parquet):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, _, err = cli(capsys, "hypotheses", panel_parquet, "--out", folder / "h")
    finally:
        folder.chmod(0o755)
    assert code == 3 and f"folder {folder} is read-only" in err and list(folder.iterdir()) == []


def test_hypotheses_read_only_html_leaves_every_file_as_it_was(capsys, tmp_path, panel_parquet):
    # The issue: a read-only target left .md and .tex new, .html old and no .csv.
    for ext in ("md", "tex", "html"):
        (tmp_path / f"h.{ext}").write_text(f"earlier {ext}\n")
    (tmp_path / "h.html").chmod(0o444)
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "hypotheses", panel_parquet, "--out", tmp_path / "h")
    assert code == 3 and "h.html is read-only" in err and one_message(err)
    assert snapshot(tmp_path) == before and debris(tmp_path) == []


def test_out_locked_by_another_run(capsys, tmp_path, panel_parquet):
    target = tmp_path / "c.parquet"
    target.write_bytes(b"earlier")
    with hold_lock(tmp_path / "c"):
        code, _, err = cli(capsys, "classify", panel_parquet, "--out", target)
    assert code == 3 and f"process {os.getpid()}" in err and "another run" in err
    assert target.read_bytes() == b"earlier" and debris(tmp_path) == []


def test_disk_full_writing_classified_panel(capsys, tmp_path, panel_parquet, monkeypatch):
    import pyarrow.parquet as pq

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    code, _, err = cli(capsys, "classify", panel_parquet, "--out", tmp_path / "c.parquet")
    assert code == 3 and "No space left on device" in err and "c.parquet" in err
    assert list(tmp_path.iterdir()) == []


def test_disk_full_writing_csv_keeps_earlier_file(capsys, tmp_path, panel_parquet, monkeypatch):
    target = tmp_path / "c.csv"
    target.write_text("earlier\n")

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    code, _, err = cli(capsys, "classify", panel_parquet, "--out", target)
    assert code == 3 and "No space left on device" in err
    assert target.read_text() == "earlier\n" and debris(tmp_path) == []


# == invalid data (exit 1) =====================================================================
def test_validate_invalid(capsys, invalid_csv):
    code, out, _ = cli(capsys, "validate", invalid_csv)
    assert code == 1 and "main_buyer_share" in out


def test_hypotheses_invalid_data_writes_nothing(capsys, tmp_path, invalid_csv):
    code, _, err = cli(capsys, "hypotheses", invalid_csv, "--out", tmp_path / "h")
    assert code == 1 and "main_buyer_share" in err and one_message(err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error", ["PanelStructureError", "IdentificationError", "ConvergenceError"])
def test_data_that_cannot_support_the_model_exit_1(capsys, panel_parquet, monkeypatch, error):
    import gvcpanel.errors as errors
    import gvcpanel.gvc.hypotheses as hypotheses

    def fails(*args, **kwargs):
        raise getattr(errors, error)("no variation in quasi_hierarchy within firms")

    monkeypatch.setattr(hypotheses, "test_hypotheses", fails)
    code, _, err = cli(capsys, "hypotheses", panel_parquet)
    assert code == 1 and "quasi_hierarchy" in err and one_message(err)


def test_interrupt_exits_130(capsys, panel_parquet, monkeypatch):
    import gvcpanel.gvc.hypotheses as hypotheses

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hypotheses, "test_hypotheses", interrupted)
    code, _, err = cli(capsys, "hypotheses", panel_parquet)
    assert code == 130 and "interrupted" in err


# == the installed command: one line, no traceback =============================================
def test_installed_command_prints_one_line(tmp_path):
    exe = Path(sys.executable).parent / "gvcpanel"
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    done = subprocess.run([str(exe), "classify", str(tmp_path / "missing.csv"), "--out", "x.csv"],
                          capture_output=True, text=True)
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "missing.csv: no such file" in done.stderr
