"""The README's examples run: every fenced ``python`` block and every command of its ``sh`` blocks
(issue #9, item 6), and so do the worked examples of the user guide (``docs/guide/*.md``).

They run in a scratch folder holding the files the README names: ``firms.csv`` and
``firms.parquet`` (a 500-firm simulated panel in the canonical layout), ``export.csv`` (part of it
saved as latin-1), ``survey.xlsx`` (a panel sheet and a notes sheet) and ``es_panel.dta`` (the
World Bank Enterprise Survey codes of ``tests/fixtures/wbes_panel.csv``).  ``gvcpanel ...``
commands run the installed command line and must exit 0; ``make replicate [DATA=...]
[MAPPING=...]`` runs what that target runs (``python -m replication.run``) into the scratch
folder; ``make test`` is this suite and is not run again from inside it.  A command the README
shows that is known not to work yet is marked as an expected failure naming the issue that
fixes it, so that the mark has to go when it starts working (``strict=True``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: the files whose examples run: the README, then the user guide
DOCUMENTS = [README, *sorted((ROOT / "docs" / "guide").glob("*.md"))]
FIXTURES = Path(__file__).parent / "fixtures"

#: README commands known to fail, with the issue that owns the fix
EXPECTED_FAILURES: dict[str, str] = {}
#: commands that are not run from inside the test suite, and why
NOT_RUN = {
    "make test": "this is the test suite itself",
    "make replicate": "run end to end, twice, by tests/test_replication.py",
    "make montecarlo": "the Monte Carlo studies take minutes (make montecarlo)",
    "make bench": "timings, run by make bench",
}


def fenced_blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, code, line number of the opening fence) of every fenced block."""
    blocks = []
    for match in re.finditer(r"^```([\w+-]*)[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        line = text.count("\n", 0, match.start()) + 1
        blocks.append((match.group(1).lower(), match.group(2), line))
    return blocks


def shell_commands(code: str) -> list[str]:
    """Commands of a shell block, comments removed."""
    out = []
    for raw in code.splitlines():
        command = re.sub(r"\s+#.*$", "", raw).strip()
        if command and not command.startswith("#"):
            out.append(command)
    return out


BLOCKS = [(doc.relative_to(ROOT).as_posix(), *block) for doc in DOCUMENTS
          for block in fenced_blocks(doc.read_text(encoding="utf-8"))]
PYTHON = [(code, f"{where}:{line}") for where, lang, code, line in BLOCKS if lang in ("python", "py")]
COMMANDS = [(cmd, f"{where}:{line}") for where, lang, code, line in BLOCKS
            if lang in ("sh", "bash", "shell", "console") for cmd in shell_commands(code)]
INSTALLS = ("pip install",)  # installation lines of the guide are not run


def _param(command: str, where: str):
    marks = []
    if command in EXPECTED_FAILURES:
        marks.append(pytest.mark.xfail(strict=True, reason=EXPECTED_FAILURES[command]))
    return pytest.param(command, id=f"{where}: {command}", marks=marks)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    from gvcpanel.gvc.simulate import simulate_panel

    folder = tmp_path_factory.mktemp("readme")
    frame = simulate_panel(n_firms=500, seed=8).frame
    frame.to_csv(folder / "firms.csv", index=False)
    frame.to_parquet(folder / "firms.parquet", index=False)
    pd.read_csv(FIXTURES / "wbes_panel.csv").to_stata(folder / "es_panel.dta", write_index=False)
    # the README's encoding and sheet examples: text saved as latin-1 (a country name with an
    # accent), and a workbook with a notes sheet beside the panel
    latin = frame.head(200).assign(country="Côte d'Ivoire")
    latin.to_csv(folder / "export.csv", index=False, encoding="latin-1")
    with pd.ExcelWriter(folder / "survey.xlsx") as book:
        frame.head(200).to_excel(book, sheet_name="panel", index=False)
        pd.DataFrame({"note": ["wave 1 fielded 2009"]}).to_excel(book, sheet_name="notes", index=False)
    return folder


def test_the_readme_has_examples_to_run():
    assert any(where.startswith("README.md") for _, where in PYTHON)
    assert any(cmd.startswith("gvcpanel ") and where.startswith("README.md") for cmd, where in COMMANDS)
    assert len({where.split(":")[0] for _, where in PYTHON}) >= 5  # the guide pages have examples


@pytest.mark.slow
@pytest.mark.parametrize("code, where", PYTHON, ids=[where for _, where in PYTHON])
def test_python_block(code, where, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    namespace = {"__name__": "__readme__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the small panel warns about few clusters
        exec(compile(code, where, "exec"), namespace)


def _make_replicate(args: list[str], out: Path) -> list[str]:
    options = dict(arg.split("=", 1) for arg in args)
    unknown = set(options) - {"DATA", "MAPPING"}
    assert not unknown, f"make replicate takes DATA= and MAPPING=, the README shows {sorted(unknown)}"
    command = [sys.executable, "-m", "replication.run", "--out", str(out)]
    if "DATA" in options:
        command += ["--data", options["DATA"]]
    if "MAPPING" in options:
        command += ["--mapping", options["MAPPING"]]
    return command


@pytest.mark.slow
@pytest.mark.parametrize("command", [_param(cmd, where) for cmd, where in COMMANDS
                                     if not cmd.startswith(INSTALLS)])
def test_shell_command(command, workdir, tmp_path):
    words = shlex.split(command)
    if command in NOT_RUN:
        pytest.skip(NOT_RUN[command])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GVCPANEL_PROGRESS": "0"}
    if words[0] == "gvcpanel":
        argv = [str(Path(sys.executable).parent / "gvcpanel"), *words[1:]]
    elif words[:2] == ["make", "replicate"]:
        argv = _make_replicate(words[2:], tmp_path / "output")
    else:
        pytest.fail(f"tests/test_readme.py does not know how to run {command!r}; teach it or change the README")
    done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
