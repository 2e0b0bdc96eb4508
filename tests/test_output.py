"""The one atomic writer (gvcpanel/report/output.py): what a path means, sets, locks, recovery."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from gvcpanel.errors import OutputError, SpecificationError
from gvcpanel.report.output import (MARKER, output_files, sha256_file, write_directory, write_files)

TABLES = ("md", "tex", "html", "csv")


@pytest.mark.parametrize(("given", "expected"), [
    ("res/hyp", ["res/hyp.md", "res/hyp.tex", "res/hyp.html", "res/hyp.csv"]),
    ("res/hyp_v1.2", ["res/hyp_v1.2.md", "res/hyp_v1.2.tex", "res/hyp_v1.2.html", "res/hyp_v1.2.csv"]),
    ("res/run.final", ["res/run.final.md", "res/run.final.tex", "res/run.final.html", "res/run.final.csv"]),
    ("res/hyp.tex", ["res/hyp.tex"]),
    ("res/hyp.CSV", ["res/hyp.CSV"]),
    ("res/hyp_v1.2.html", ["res/hyp_v1.2.html"]),
])
def test_output_path_rule(given, expected):
    assert [p.as_posix() for p in output_files(given, TABLES).files.values()] == expected


def test_stem_of_a_single_file_names_the_set():
    assert output_files("res/hyp_v1.2.md", TABLES).stem == Path("res/hyp_v1.2")
    assert output_files("res/hyp_v1.2", TABLES).stem == Path("res/hyp_v1.2")


def test_default_formats_for_a_stem():
    files = output_files("panel_v2.1", ("parquet", "csv"), default=("parquet",)).files
    assert files == {"parquet": Path("panel_v2.1.parquet")}
    assert output_files("panel.csv", ("parquet", "csv"), default=("parquet",)).files == {"csv": Path("panel.csv")}


@pytest.mark.parametrize("given", ["t.xlsx", "t.txt", "t.parquet", "t.pdf", "t.JSON"])
def test_file_types_the_writer_cannot_produce_are_refused(given):
    with pytest.raises(SpecificationError, match="the extension chooses the format"):
        output_files(given, TABLES, option="--out")


def test_sha256_file(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"gvcpanel")
    assert sha256_file(path) == hashlib.sha256(b"gvcpanel").hexdigest()


def test_directory_set_marker_lists_the_files_and_the_stage_hashes_them(tmp_path):
    out = tmp_path / "o"
    with write_directory(out) as stage:
        (stage.path / "b.txt").write_text("b")
        (stage.path / "sub").mkdir()
        (stage.path / "sub" / "a.txt").write_text("a")
        hashes = stage.sha256()
    assert hashes == {"b.txt": hashlib.sha256(b"b").hexdigest(), "sub/a.txt": hashlib.sha256(b"a").hexdigest()}
    assert (out / MARKER).read_text().splitlines()[1:] == ["b.txt", "sub/a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_directory_set_is_replaced_whole(tmp_path, capsys):
    out = tmp_path / "o"
    with write_directory(out) as stage:
        (stage.path / "old_only.txt").write_text("1")
        (stage.path / "both.txt").write_text("1")
    with write_directory(out) as stage:
        (stage.path / "both.txt").write_text("2")
        assert (out / "old_only.txt").exists()  # the earlier set stays readable while writing
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "both.txt"]
    assert "1 of its files are not in the new set: old_only.txt" in capsys.readouterr().err


def test_empty_existing_folder_is_used(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    with write_directory(out) as stage:
        (stage.path / "a.txt").write_text("a")
    assert (out / "a.txt").read_text() == "a" and capsys.readouterr().err == ""


def test_file_set_round_trip_and_no_notice_for_new_files(tmp_path, capsys):
    written = write_files({tmp_path / "a.txt": lambda p: p.write_text("a"),
                           tmp_path / "a.csv": lambda p: p.write_text("x\n")}, stem=tmp_path / "a")
    assert written == [tmp_path / "a.txt", tmp_path / "a.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.txt"]
    assert capsys.readouterr().err == ""


def test_file_set_members_share_a_folder(tmp_path):
    with pytest.raises(ValueError, match="same folder"):
        write_files({tmp_path / "a.txt": str, tmp_path / "sub" / "b.txt": str})


def test_os_error_is_an_output_error_and_an_os_error(tmp_path):
    (tmp_path / "a.txt").mkdir()
    with pytest.raises(OSError) as info:
        write_files({tmp_path / "a.txt": lambda p: p.write_text("a")})
    assert isinstance(info.value, OutputError)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names open files through /proc")
def test_files_are_flushed_before_they_are_moved_into_place(tmp_path, monkeypatch):
    synced: list[str] = []
    real = os.fsync

    def record(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)

    monkeypatch.setattr(os, "fsync", record)
    write_files({tmp_path / "a.txt": lambda p: p.write_text("a")})
    assert any(".gvcpanel-tmp-" in s and s.endswith("a.txt") for s in synced)
    assert str(tmp_path) in synced  # the folder, so the rename itself is durable


def test_panel_pq_extension_is_parquet(tmp_path):
    import gvcpanel as gp
    from gvcpanel.gvc.simulate import simulate_panel

    panel = simulate_panel(n_firms=40, seed=3).panel
    written = panel.to_parquet(tmp_path / "p.pq")
    assert written == tmp_path / "p.pq" and written.read_bytes()[:4] == b"PAR1"
    assert len(gp.load_panel(written).data) == len(panel.data)
