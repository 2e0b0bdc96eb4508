"""Bad output targets and faults while writing: nothing lost, nothing stale, one clear message.

Groups: ``outputs`` (targets that cannot take the set, format by extension) and ``faults``
(disk full, failed renames, killed runs, concurrent runs). Every case checks the error (class or
exit code), that the message names the culprit, and that what was there before is byte-identical
with no temporary debris left behind.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from gvcpanel.errors import OutputError, OutputLockedError, SpecificationError
from gvcpanel.report import output
from gvcpanel.report.output import MARKER, hold_lock, lock_path, write_directory, write_files
from gvcpanel.report.tables import Table
from replication.run import main as replicate

from .conftest import REPO, debris, run_python, snapshot

TABLE = Table(pd.DataFrame({"estimate": ["0.607"]}, index=pd.Index(["H1"], name="id")), title="T")
NEW_TABLE = Table(pd.DataFrame({"estimate": ["9.999"]}, index=pd.Index(["H1"], name="id")), title="T")


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def old_table_set(folder: Path, stem: str = "t") -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    TABLE.write(folder / stem)
    return snapshot(folder)


# == outputs: replication folder ===========================================================
@pytest.mark.replication
def test_failed_run_after_table1_leaves_earlier_set_byte_identical(results_dir, panel_csv, capsys, monkeypatch):
    # A model fails after table 1 was written (the nofunc.csv did so before missing
    # indicators became "not estimable" rows, issue 10): the earlier set stays as it was.
    from gvcpanel.errors import ConvergenceError
    from replication import tables

    def fails(report):
        raise ConvergenceError("the functional hazard did not converge (function_level)")

    monkeypatch.setattr(tables, "table3_functional", fails)
    before = snapshot(results_dir)
    code = replicate(["--data", str(panel_csv), "--out", str(results_dir), "--skip-bootstrap"])
    err = capsys.readouterr().err
    assert code == 1
    assert "function_level" in err and f"{results_dir} was left as it was" in err
    assert snapshot(results_dir) == before
    assert debris(results_dir.parent) == []


@pytest.mark.replication
def test_data_without_an_indicator_writes_what_it_can_and_nothing_stale(results_dir, nofunc_csv,
                                                                         nofunc_column_csv, capsys):
    # issue 10: a missing indicator makes its models "not estimable"; the others are estimated,
    # and no table of the earlier (complete) set survives beside the new one
    assert "table3_functional.md" in {p.name for p in results_dir.iterdir()}  # the earlier, complete set
    for data in (nofunc_csv, nofunc_column_csv):
        code = replicate(["--data", str(data), "--out", str(results_dir), "--skip-bootstrap"])
        assert code == 0, capsys.readouterr().err
        names = {p.name for p in results_dir.iterdir()}
        assert "table2_process_product.md" in names and "table5_hypotheses.md" in names
        assert not {n for n in names if n.startswith(("table3", "table4", "figure1"))}
        assert "not estimable: missing function_level" in (results_dir / "table5_hypotheses.md").read_text()
        assert "not written: table3_functional" in (results_dir / "run_log.txt").read_text()
        assert debris(results_dir.parent) == []


@pytest.mark.replication
def test_invalid_data_exits_1_and_leaves_earlier_set(results_dir, invalid_csv, capsys):
    before = snapshot(results_dir)
    assert replicate(["--data", str(invalid_csv), "--out", str(results_dir)]) == 1
    err = capsys.readouterr().err
    assert "main_buyer_share" in err and str(invalid_csv) in err and "left as it was" in err
    assert snapshot(results_dir) == before and debris(results_dir.parent) == []


@pytest.mark.replication
def test_missing_data_file_exits_3(results_dir, tmp_path, capsys):
    before = snapshot(results_dir)
    missing = tmp_path / "nope.csv"
    assert replicate(["--data", str(missing), "--out", str(results_dir)]) == 3
    err = capsys.readouterr().err
    assert str(missing) in err and "no such file" in err and "Traceback" not in err
    assert snapshot(results_dir) == before


@pytest.mark.replication
def test_user_data_run_replaces_the_whole_example_set(tmp_path, panel_csv, capsys):
    # The issue: a successful run on user data left the example's truth table behind.
    out = tmp_path / "o"
    out.mkdir()
    (out / MARKER).write_text("earlier set\n")
    for name in ("table_truth_vs_estimates.md", "table1_descriptives.md", "run_log.txt"):
        (out / name).write_text("from an earlier run\n")
    assert replicate(["--data", str(panel_csv), "--out", str(out), "--skip-bootstrap"]) == 0
    names = {p.name for p in out.iterdir()}
    assert "table_truth_vs_estimates.md" not in names
    assert "from an earlier run" not in (out / "table1_descriptives.md").read_text()
    err = capsys.readouterr().err
    assert f"replaced the earlier set in {out}" in err and "table_truth_vs_estimates.md" in err
    assert debris(tmp_path) == []


@pytest.mark.replication
def test_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "o"
    target.write_text("my notes\n")
    assert replicate(["--out", str(target), "--skip-bootstrap"]) == 3
    err = capsys.readouterr().err
    assert f"--out {target} is a file" in err
    assert target.read_text() == "my notes\n" and debris(tmp_path) == []


@pytest.mark.replication
def test_out_folder_with_foreign_files_is_not_replaced(tmp_path, capsys):
    target = tmp_path / "thesis"
    target.mkdir()
    (target / "chapter1.docx").write_bytes(b"precious")
    assert replicate(["--out", str(target), "--skip-bootstrap"]) == 3
    err = capsys.readouterr().err
    assert "chapter1.docx" in err and "did not write" in err
    assert snapshot(target) == {"chapter1.docx": b"precious"} and debris(tmp_path) == []


@pytest.mark.replication
def test_read_only_earlier_set_is_refused(results_dir, capsys):
    before = snapshot(results_dir)
    results_dir.chmod(0o555)
    try:
        assert replicate(["--out", str(results_dir), "--skip-bootstrap"]) == 3
    finally:
        results_dir.chmod(0o755)
    assert f"{results_dir} is read-only" in capsys.readouterr().err
    assert snapshot(results_dir) == before and debris(results_dir.parent) == []


@pytest.mark.replication
def test_read_only_parent_folder_is_refused(tmp_path, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        assert replicate(["--out", str(parent / "o"), "--skip-bootstrap"]) == 3
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o755)
    assert f"folder {parent} is read-only" in capsys.readouterr().err


@pytest.mark.replication
def test_parent_is_a_file(tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    assert replicate(["--out", str(blocker / "o"), "--skip-bootstrap"]) == 3
    assert f"{blocker} is a file" in capsys.readouterr().err
    assert blocker.read_text() == "x"


@pytest.mark.replication
def test_out_is_the_current_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    assert replicate(["--out", ".", "--skip-bootstrap"]) == 3
    assert "is the current folder" in capsys.readouterr().err
    assert snapshot(tmp_path) == {"notes.txt": b"mine"}


@pytest.mark.replication
def test_missing_parents_are_created(tmp_path, panel_csv):
    out = tmp_path / "a" / "b" / "o"
    assert replicate(["--data", str(panel_csv), "--out", str(out), "--skip-bootstrap"]) == 0
    assert (out / "table5_hypotheses.md").is_file() and debris(out.parent) == []


@pytest.mark.replication
def test_failed_run_removes_the_parents_it_created(tmp_path, panel_csv, monkeypatch):
    from gvcpanel.errors import ConvergenceError
    from replication import tables

    def fails(report):
        raise ConvergenceError("the functional hazard did not converge")

    monkeypatch.setattr(tables, "table3_functional", fails)
    out = tmp_path / "a" / "b" / "o"
    assert replicate(["--data", str(panel_csv), "--out", str(out), "--skip-bootstrap"]) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.replication
def test_out_symlink_is_refused(results_dir, tmp_path, capsys):
    link = tmp_path / "link"
    link.symlink_to(results_dir)
    before = snapshot(results_dir)
    assert replicate(["--out", str(link), "--skip-bootstrap"]) == 3
    assert "symbolic link" in capsys.readouterr().err
    assert snapshot(results_dir) == before and link.is_symlink()


@pytest.mark.replication
def test_folder_from_before_the_marker_is_recognised(results_dir, panel_csv, capsys):
    # Sets written by earlier versions (run_log.txt, no marker) are replaced, not refused.
    (results_dir / MARKER).unlink()
    (results_dir / "table_truth_vs_estimates.md").write_text("stale\n")
    assert replicate(["--data", str(panel_csv), "--out", str(results_dir), "--skip-bootstrap"]) == 0
    assert not (results_dir / "table_truth_vs_estimates.md").exists()
    assert "replaced the earlier set" in capsys.readouterr().err


# == outputs: tables, panels =================================================================
def test_table_stem_keeps_its_dots(tmp_path):
    # The issue: --out res/hyp_v1.2 wrote res/hyp_v1.md, .tex, ...
    paths = TABLE.write(tmp_path / "res" / "hyp_v1.2")
    assert sorted(p.name for p in paths) == ["hyp_v1.2.csv", "hyp_v1.2.html", "hyp_v1.2.md", "hyp_v1.2.tex"]
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == sorted(p.name for p in paths)


def test_table_read_only_member_refuses_the_whole_set(tmp_path):
    # The issue: a read-only target left .md and .tex new, .html old and no .csv.
    before = old_table_set(tmp_path)
    (tmp_path / "t.html").chmod(0o444)
    with pytest.raises(OutputError, match=r"t\.html is read-only, so none of t\.md, t\.tex, t\.html, t\.csv"):
        NEW_TABLE.write(tmp_path / "t")
    assert snapshot(tmp_path) == before and debris(tmp_path) == []


def test_table_unknown_extension_is_refused(tmp_path):
    with pytest.raises(SpecificationError, match=r"t\.xlsx: cannot write \.xlsx"):
        TABLE.write(tmp_path / "t.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_table_extension_chooses_the_one_format(tmp_path):
    (path,) = TABLE.write(tmp_path / "t.tex")
    assert path.name == "t.tex" and path.read_text().startswith(r"\begin{table}")
    assert [p.name for p in tmp_path.iterdir()] == ["t.tex"]


def test_table_extension_against_formats_is_refused(tmp_path):
    with pytest.raises(SpecificationError, match="formats="):
        TABLE.write(tmp_path / "t.csv", formats=("md",))
    assert list(tmp_path.iterdir()) == []


def test_table_target_is_a_folder(tmp_path):
    (tmp_path / "t.md").mkdir()
    with pytest.raises(OutputError, match=r"t\.md is a folder") as info:
        TABLE.write(tmp_path / "t")
    assert info.value.errno == errno.EISDIR
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.md"] and list((tmp_path / "t.md").iterdir()) == []


def test_table_path_is_an_existing_folder(tmp_path):
    with pytest.raises(OutputError, match="is a folder; this writes files"):
        TABLE.write(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_table_empty_path(tmp_path):
    with pytest.raises(SpecificationError, match="empty"):
        TABLE.write("")


def test_table_read_only_folder(tmp_path):
    before = old_table_set(tmp_path)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(OutputError, match=f"folder {tmp_path} is read-only"):
            NEW_TABLE.write(tmp_path / "t")
    finally:
        tmp_path.chmod(0o755)
    assert snapshot(tmp_path) == before


def test_table_replacement_is_said(tmp_path, capsys):
    old_table_set(tmp_path)
    NEW_TABLE.write(tmp_path / "t")
    err = capsys.readouterr().err
    assert f"replaced {tmp_path / 't.md'}" in err and "earlier run" in err
    assert "9.999" in (tmp_path / "t.md").read_text()


def test_panel_to_csv_name_is_refused(tmp_path, panel_parquet):
    # The issue: classify --out x.csv wrote Parquet bytes into x.csv; the method refuses the name.
    import gvcpanel as gp

    panel = gp.load_panel(panel_parquet)
    with pytest.raises(SpecificationError, match=r"x\.csv: cannot write \.csv"):
        panel.to_parquet(tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


def test_panel_stem_keeps_dots(tmp_path, panel_parquet):
    import gvcpanel as gp

    written = gp.load_panel(panel_parquet).to_parquet(tmp_path / "panel_v1.2")
    assert written == tmp_path / "panel_v1.2.parquet"
    assert gp.load_panel(written).data.shape[0] > 0


def test_panel_disk_full_keeps_earlier_file(tmp_path, panel_parquet, monkeypatch):
    import gvcpanel as gp
    import pyarrow.parquet as pq

    target = tmp_path / "p.parquet"
    target.write_bytes(b"earlier")
    monkeypatch.setattr(pq, "write_table", enospc)
    with pytest.raises(OutputError, match=r"could not write .*p\.parquet: No space left on device") as info:
        gp.load_panel(panel_parquet).to_parquet(target)
    assert info.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"earlier" and debris(tmp_path) == []


# == faults ===================================================================================
@pytest.mark.replication
def test_disk_full_while_writing_a_table(results_dir, panel_csv, monkeypatch, capsys):
    before = snapshot(results_dir)
    real = Path.write_text

    def full_at_table3(self, *args, **kwargs):
        if self.name.startswith("table3"):
            enospc()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_at_table3)
    assert replicate(["--data", str(panel_csv), "--out", str(results_dir), "--skip-bootstrap"]) == 3
    err = capsys.readouterr().err
    assert "No space left on device" in err and str(results_dir) in err and "left as it was" in err
    assert snapshot(results_dir) == before and debris(results_dir.parent) == []


@pytest.mark.replication
def test_disk_full_when_flushing_the_set(results_dir, panel_csv, monkeypatch, capsys):
    before = snapshot(results_dir)
    monkeypatch.setattr(output, "_fsync_tree", enospc)
    assert replicate(["--data", str(panel_csv), "--out", str(results_dir), "--skip-bootstrap"]) == 3
    assert "No space left on device" in capsys.readouterr().err
    assert snapshot(results_dir) == before and debris(results_dir.parent) == []


@pytest.mark.replication
def test_rename_into_place_fails_and_earlier_set_is_put_back(results_dir, panel_csv, monkeypatch, capsys):
    before = snapshot(results_dir)
    real, calls = os.rename, []

    def second_rename_fails(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the earlier set is aside, the new one not yet in place
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(os, "rename", second_rename_fails)
    assert replicate(["--data", str(panel_csv), "--out", str(results_dir), "--skip-bootstrap"]) == 3
    assert "Input/output error" in capsys.readouterr().err
    assert snapshot(results_dir) == before and debris(results_dir.parent) == []


@pytest.mark.replication
def test_bug_inside_a_run_keeps_its_traceback_and_the_earlier_set(results_dir, panel_csv, monkeypatch):
    import replication.tables as rt

    def broken(report):
        raise RuntimeError("a bug in table 4")

    before = snapshot(results_dir)
    monkeypatch.setattr(rt, "table4_moderation", broken)
    with pytest.raises(RuntimeError, match="a bug in table 4") as info:
        replicate(["--data", str(panel_csv), "--out", str(results_dir), "--skip-bootstrap"])
    assert any("left as it was" in note for note in info.value.__notes__)
    assert snapshot(results_dir) == before and debris(results_dir.parent) == []


@pytest.mark.replication
def test_interrupt_keeps_the_earlier_set(results_dir, panel_csv, monkeypatch):
    import replication.tables as rt

    def interrupted(report):
        raise KeyboardInterrupt

    before = snapshot(results_dir)
    monkeypatch.setattr(rt, "table3_functional", interrupted)
    with pytest.raises(KeyboardInterrupt):
        replicate(["--data", str(panel_csv), "--out", str(results_dir), "--skip-bootstrap"])
    assert snapshot(results_dir) == before and debris(results_dir.parent) == []


@pytest.mark.replication
def test_concurrent_run_is_refused_while_the_lock_is_held(results_dir, panel_csv, capsys):
    # The issue: two runs into one folder both exited 0 and mixed tables.
    before = snapshot(results_dir)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom gvcpanel.report.output import hold_lock\n"
         f"with hold_lock({str(results_dir)!r}):\n    print('held', flush=True)\n    sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        code = replicate(["--data", str(panel_csv), "--out", str(results_dir), "--skip-bootstrap"])
    finally:
        proc.communicate(input="")
    err = capsys.readouterr().err
    assert code == 3
    assert f"process {proc.pid}" in err and str(lock_path(results_dir)) in err
    assert snapshot(results_dir) == before and debris(results_dir.parent) == []


def test_lock_held_in_this_process_refuses_a_table(tmp_path):
    before = old_table_set(tmp_path)
    with hold_lock(tmp_path / "t"):
        with pytest.raises(OutputLockedError, match=f"process {os.getpid()}"):
            NEW_TABLE.write(tmp_path / "t")
    assert snapshot(tmp_path) == before and debris(tmp_path) == []


@pytest.mark.replication
def test_stale_lock_of_a_dead_process_is_taken_over(results_dir, panel_csv, capsys):
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom gvcpanel.report.output import hold_lock\n"
         f"with hold_lock({str(results_dir)!r}):\n    print('held', flush=True)\n    time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    proc.kill()
    proc.wait()
    assert lock_path(results_dir).read_text().strip() == str(proc.pid)  # left behind by the kill
    assert replicate(["--data", str(panel_csv), "--out", str(results_dir), "--skip-bootstrap"]) == 0
    err = capsys.readouterr().err
    assert f"taking over the lock {lock_path(results_dir)} left by process {proc.pid}" in err
    assert debris(results_dir.parent) == []


@pytest.mark.replication
@pytest.mark.slow
def test_killed_replication_leaves_earlier_set_and_next_run_cleans_up(results_dir, panel_csv):
    before = snapshot(results_dir)
    earlier_folder = results_dir.stat().st_ino
    proc = subprocess.Popen([sys.executable, "-m", "replication.run", "--data", str(panel_csv),
                             "--out", str(results_dir)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stages = [p for p in results_dir.parent.glob(".o.gvcpanel-tmp-*")]
        if stages and any(stages[0].glob("table1_descriptives.*")):
            break
        assert proc.poll() is None, "the run ended before it could be killed midway"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert snapshot(results_dir) == before
    assert debris(results_dir.parent)  # the killed run's temporary folder and lock
    done = run_python("-m", "replication.run", "--data", str(panel_csv), "--out", str(results_dir),
                      "--skip-bootstrap", cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "left in" in done.stderr and "by an interrupted run" in done.stderr
    assert debris(results_dir.parent) == []
    # the new set was moved in whole (a new folder), whatever its run log says of the elapsed time
    assert results_dir.stat().st_ino != earlier_folder


KILL_AT_CALL = """
import os, signal, sys
from pathlib import Path
import {module} as target_module
real = target_module.{function}
calls = []
def die_at_call(*args):
    calls.append(args)
    if len(calls) == {call}:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args)
target_module.{function} = die_at_call
{body}
"""


def test_killed_between_the_two_renames_next_run_puts_the_earlier_set_back(tmp_path):
    out = tmp_path / "o"
    with write_directory(out) as stage:
        (stage.path / "a.txt").write_text("earlier\n")
    before = snapshot(out)
    body = ("from gvcpanel.report.output import write_directory\n"
            f"with write_directory({str(out)!r}) as stage:\n"
            "    (stage.path / 'a.txt').write_text('new\\n')\n")
    done = run_python("-c", KILL_AT_CALL.format(module="os", function="rename", call=2, body=body))
    assert done.returncode == -signal.SIGKILL
    assert not out.exists() and debris(tmp_path)  # killed after moving the earlier set aside
    with pytest.raises(RuntimeError):
        with write_directory(out) as stage:
            raise RuntimeError("a later run that fails")
    assert snapshot(out) == before and debris(tmp_path) == []


def test_killed_between_file_replacements_next_write_undoes_the_half_commit(tmp_path, capsys):
    before = old_table_set(tmp_path)
    body = ("import pandas as pd\nfrom gvcpanel.report.tables import Table\n"
            "Table(pd.DataFrame({'estimate': ['9.999']})).write("f"{str(tmp_path / 't')!r})\n")
    # os.replace calls: t.md aside, new t.md in, t.tex aside, [killed] new t.tex in, ...
    done = run_python("-c", KILL_AT_CALL.format(module="os", function="replace", call=4, body=body))
    assert done.returncode == -signal.SIGKILL
    assert "9.999" in (tmp_path / "t.md").read_text() and not (tmp_path / "t.tex").exists()
    NEW_TABLE.write(tmp_path / "t.csv")  # a later writer of the set undoes the half commit first
    err = capsys.readouterr().err
    assert "taking over the lock" in err and "the earlier files were put back" in err
    assert snapshot(tmp_path) == {**before, "t.csv": NEW_TABLE.to_csv().encode()}
    assert debris(tmp_path) == []


def test_failed_replacement_rolls_back_the_moves_already_made(tmp_path, monkeypatch):
    before = old_table_set(tmp_path)
    real, calls = os.replace, []

    def third_replace_fails(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(errno.EIO, "Input/output error", str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", third_replace_fails)
    with pytest.raises(OutputError, match="Input/output error; nothing was changed"):
        NEW_TABLE.write(tmp_path / "t")
    assert snapshot(tmp_path) == before and debris(tmp_path) == []


def test_failed_replacement_removes_new_files_it_had_added(tmp_path, monkeypatch):
    real, calls = os.replace, []

    def second_replace_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", second_replace_fails)
    with pytest.raises(OutputError):
        TABLE.write(tmp_path / "t")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_on_the_third_table_file(tmp_path, monkeypatch):
    before = old_table_set(tmp_path)
    real = Path.write_text

    def full_at_html(self, *args, **kwargs):
        if self.suffix == ".html":
            enospc()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_at_html)
    with pytest.raises(OutputError, match=r"No space left on device; nothing was changed") as info:
        NEW_TABLE.write(tmp_path / "t")
    assert info.value.errno == errno.ENOSPC and str(tmp_path / "t.md") in str(info.value)
    assert snapshot(tmp_path) == before and debris(tmp_path) == []


def test_writer_that_writes_nothing_is_an_error(tmp_path):
    with pytest.raises(OutputError, match="the writer produced no file"):
        write_files({tmp_path / "a.txt": lambda staged: None})
    assert list(tmp_path.iterdir()) == []


def test_lock_file_cannot_be_created(tmp_path, monkeypatch):
    real = os.open

    def no_lock(path, *args, **kwargs):
        if str(path).endswith(".gvcpanel-lock"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_lock)
    with pytest.raises(OutputError, match="cannot create the lock file .*Permission denied"):
        TABLE.write(tmp_path / "t")
    assert list(tmp_path.iterdir()) == []


def test_permission_denied_making_the_temporary_folder(tmp_path, monkeypatch):
    before = old_table_set(tmp_path)
    real = Path.mkdir

    def denied(self, *args, **kwargs):
        if ".gvcpanel-tmp-" in self.name:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(OutputError, match="Permission denied") as info:
        NEW_TABLE.write(tmp_path / "t")
    assert info.value.errno == errno.EACCES
    assert snapshot(tmp_path) == before and debris(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root writes into read-only folders; the mode-bit check covers root")
def test_real_permission_error_without_write_bits_check(tmp_path, monkeypatch):  # pragma: no cover
    folder = tmp_path / "f"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setattr(output, "_read_only", lambda path: False)
    try:
        with pytest.raises(OutputError, match="Permission denied"):
            TABLE.write(folder / "t")
    finally:
        folder.chmod(0o755)
