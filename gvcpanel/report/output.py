"""Whole or nothing: the one writer of result files.

Every writer of results (tables, panels, the replication folder, the command line's ``--out``)
goes through this module, so a reader never sees half a set or a set that mixes two runs.

Two shapes of output:

* a **folder set** (:func:`write_directory`): the files are written into a hidden sibling
  folder, flushed to disk, and the finished folder takes the target's place by renaming; the
  earlier set, if any, is removed only after the new one is in place.
* a **file set** (:func:`write_files`): one file, or several files sharing a stem (``t.md``,
  ``t.tex``, ...), written into a hidden sibling folder and moved over their targets with
  ``os.replace`` once every one of them is complete. A journal lets a later run undo a commit
  that was killed between two of those moves.

Both take a lock (a hidden ``.<name>.gvcpanel-lock`` file beside the target holding the writer's
process id); a second writer of the same target fails at once with
:class:`~gvcpanel.errors.OutputLockedError`. Locks and temporary folders left by a killed run are
taken over and cleaned up by the next run, which says so.

What ``--out`` (and ``Table.write``, ``FirmPanel.to_parquet``) means is decided by
:func:`output_files`, in one place.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gvcpanel.errors import OutputError, OutputLockedError, SpecificationError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

Notify = Callable[[str], None]

#: Marker written into every folder set: a folder holding it may be replaced by the next run.
MARKER = ".gvcpanel-set"

#: Extensions of file types a path may name that gvcpanel never takes for a stem: a path ending
#: in one of these (and not in the formats a writer can produce) is refused, not extended.
KNOWN_FILE_TYPES = frozenset({
    "7z", "arrow", "avro", "bz2", "csv", "db", "doc", "docx", "dta", "duckdb", "eps", "feather",
    "gif", "gz", "h5", "hdf5", "htm", "html", "jpeg", "jpg", "json", "jsonl", "latex", "log", "md",
    "markdown", "npy", "npz", "ods", "odt", "orc", "parquet", "pdf", "pickle", "pkl", "png", "pq",
    "ps", "rda", "rdata", "rds", "rtf", "sas7bdat", "sav", "sqlite", "svg", "tar", "tex", "tif",
    "tiff", "tsv", "txt", "xls", "xlsx", "xml", "xz", "yaml", "yml", "zip",
})

_TMP = ".gvcpanel-tmp-"
_OLD = ".gvcpanel-old-"
_LOCK = ".gvcpanel-lock"
_JOURNAL = "commit.json"


def stderr_notify(message: str) -> None:
    """Default notice channel: one line on standard error."""
    print(f"gvcpanel: {message}", file=sys.stderr)


# -- what a path means ----------------------------------------------------------------------
@dataclass(frozen=True)
class OutputFiles:
    """The files an output path stands for.

    Attributes
    ----------
    stem : Path
        The path without a format extension (the name of the set, used for its lock).
    files : dict of str to Path
        Format -> file, in the order they are written.
    """

    stem: Path
    files: dict[str, Path]


def output_files(path: str | os.PathLike[str], formats: Sequence[str],
                 default: Sequence[str] | None = None, *, option: str = "path") -> OutputFiles:
    """Decide which files an output path names: the one meaning of ``--out``.

    Parameters
    ----------
    path : str or path-like
        What the user gave.
    formats : sequence of str
        Extensions (without the dot) the writer can produce, e.g. ``("md", "tex", "html", "csv")``.
    default : sequence of str, optional
        Formats written for a stem; default: all of ``formats``.
    option : str
        How the path was given (``"--out"``), for messages.

    Returns
    -------
    OutputFiles

    Raises
    ------
    SpecificationError
        The path is empty or ends in the extension of a file type this writer cannot produce.
    OutputError
        The path is an existing folder (``errno.EISDIR``).

    Notes
    -----
    The rule, in order:

    1. a path whose last extension is one of ``formats`` is that one file, in that format
       (``t.csv`` is CSV, never Parquet bytes under a CSV name);
    2. a path whose last extension names another known file type (``.xlsx``, ``.txt``, ...; see
       :data:`KNOWN_FILE_TYPES`) is refused;
    3. any other path is a stem and its dots are kept: ``res/hyp_v1.2`` gives ``res/hyp_v1.2.md``,
       ``res/hyp_v1.2.tex``, ... (one file per default format).
    """
    text = os.fspath(path)
    if not text.strip():
        raise SpecificationError(f"{option} is empty; give a file name such as results/table.md "
                                 "or a stem such as results/table")
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        raise _output_error(errno.EISDIR,
                            f"{option} {text} is a folder; this writes files: give a file name or a stem "
                            f"inside it, e.g. {Path(text) / 'results'}")
    target = Path(text)
    suffix = target.suffix.lower().removeprefix(".")
    formats = [f.lower() for f in formats]
    default = list(formats if default is None else default)
    if suffix in formats:
        return OutputFiles(stem=target.with_suffix(""), files={suffix: target})
    if suffix in KNOWN_FILE_TYPES:
        raise SpecificationError(
            f"{option} {text}: cannot write .{suffix} here; this output is written as "
            f"{', '.join('.' + f for f in formats)} (the extension chooses the format), or give a "
            f"stem without a file-type extension for {', '.join('.' + f for f in default)}")
    return OutputFiles(stem=target, files={fmt: Path(f"{text}.{fmt}") for fmt in default})


# -- small file-system helpers --------------------------------------------------------------
def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _output_error(code: int | None, message: str, cause: BaseException | None = None) -> OutputError:
    exc = OutputError(message)
    exc.errno = code if code is not None else getattr(cause, "errno", None)
    return exc


def _describe_os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    # Directory entries (renames) reach the disk only when the folder itself is synced; not
    # every platform can open a folder, and there is nothing more to do where it cannot.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems without directory fsync
        pass
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            _fsync_file(Path(folder) / name)
        _fsync_dir(Path(folder))


def _read_only(path: Path) -> bool:
    # Mode bits rather than os.access: a file or folder marked read-only is the user saying
    # "do not replace this", and that should hold for root too.
    return not path.lstat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def _make_parents(folder: Path, option: str) -> list[Path]:
    """Create ``folder`` and missing ancestors; return those created (outermost first)."""
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise _output_error(errno.ENOTDIR, f"{option}: cannot create folder {folder}: {probe} is a file")
    created = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:  # made meanwhile by someone else: fine
            continue
        except OSError as exc:
            _remove_empty(created)
            raise _output_error(None, f"{option}: cannot create folder {path}: "
                                      f"{_describe_os_error(exc)}", exc) from exc
        created.append(path)
    return created


def _remove_empty(folders: Sequence[Path]) -> None:
    for path in reversed(list(folders)):
        try:
            path.rmdir()
        except OSError:
            pass


def _check_writable_folder(folder: Path, option: str) -> None:
    if not folder.is_dir():
        raise _output_error(errno.ENOTDIR, f"{option}: {folder} is not a folder")
    if _read_only(folder):
        raise _output_error(errno.EACCES,
                            f"{option}: folder {folder} is read-only; nothing was written. Make it "
                            f"writable (chmod u+w {folder}) or choose another output path")


# -- the lock -------------------------------------------------------------------------------
def lock_path(target: str | os.PathLike[str]) -> Path:
    """The lock file of an output set (beside it, hidden)."""
    target = Path(target)
    return target.parent / f".{target.name}{_LOCK}"


class _Lock:
    """An exclusive lock on an output set, held by this process until :meth:`release`.

    The kernel lock (``flock``) is what excludes other writers; it disappears with the process
    however it dies, so a lock file left by a killed run is recognised as stale by simply
    acquiring it. The file's content (the holder's pid) is for messages.
    """

    def __init__(self, target: Path, notify: Notify) -> None:
        self.path = lock_path(target)
        self.target = target
        self.notify = notify
        self._fd: int | None = None

    def acquire(self) -> None:
        for _ in range(100):  # a new lock file can replace ours between open and flock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                self._lock_fd(fd)
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous holder removed the file after we opened it
                os.close(fd)
                continue
            previous = _read_holder(fd)
            if previous:
                self.notify(f"taking over the lock {self.path} left by process {previous}, which is no "
                            "longer running (an interrupted run)")
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return
        raise _output_error(errno.EAGAIN, f"could not lock {self.target}: its lock file {self.path} "
                                          "keeps changing")  # pragma: no cover

    def _lock_fd(self, fd: int) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            import msvcrt

            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:
                self._refuse(fd)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._refuse(fd)
        except OSError as exc:  # pragma: no cover - file systems without locks (some NFS)
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            self._pid_lock(fd)

    def _pid_lock(self, fd: int) -> None:  # pragma: no cover - only without kernel locks
        holder = _read_holder(fd)
        if holder.isdigit() and _alive(int(holder)) and int(holder) != os.getpid():
            self._refuse(fd)

    def _refuse(self, fd: int) -> None:
        holder = _read_holder(fd) or "unknown"
        exc = OutputLockedError(
            f"{self.target} is being written by another run (process {holder}; lock file {self.path}). "
            "Nothing was written. Wait for that run to finish, or write to another output path.")
        exc.errno = errno.EAGAIN
        raise exc

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.unlink(self.path)  # while still holding it, so nobody locks a file we then delete
        except OSError:  # pragma: no cover - Windows cannot remove an open file
            pass
        os.close(fd)


def _read_holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 64).decode(errors="replace").strip()


def _alive(pid: int) -> bool:  # pragma: no cover - only without kernel locks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def hold_lock(target: str | os.PathLike[str], notify: Notify = stderr_notify) -> Iterator[Path]:
    """Hold the output lock of ``target`` (as a running writer would); yields the lock file."""
    lock = _Lock(Path(target), notify)
    lock.acquire()
    try:
        yield lock.path
    finally:
        lock.release()


# -- debris of interrupted runs -------------------------------------------------------------
def _debris(parent: Path, name: str) -> list[Path]:
    prefix_tmp, prefix_old = f".{name}{_TMP}", f".{name}{_OLD}"
    try:
        entries = list(parent.iterdir())
    except FileNotFoundError:
        return []
    return sorted(p for p in entries if p.name.startswith((prefix_tmp, prefix_old)))


def _recover(target: Path, notify: Notify) -> None:
    """Undo or finish what an interrupted writer of ``target`` left (we hold the lock)."""
    for path in _debris(target.parent, target.name):
        kind = "tmp" if _TMP in path.name else "old"
        if kind == "tmp" and (path / _JOURNAL).is_file():
            names = _rollback_files(path, target.parent)
            notify(f"an interrupted run had replaced part of {', '.join(names)}; the earlier files "
                   "were put back")
        elif kind == "old" and not target.exists():
            os.rename(path, target)
            notify(f"an interrupted run had moved the earlier set {target} aside; it was put back")
            continue
        shutil.rmtree(path, ignore_errors=True)
        notify(f"removed {path.name}, left in {target.parent} by an interrupted run")


# -- file sets ------------------------------------------------------------------------------
def write_files(writers: Mapping[str | os.PathLike[str], Callable[[Path], object]], *,
                stem: str | os.PathLike[str] | None = None, option: str = "output",
                notify: Notify = stderr_notify) -> list[Path]:
    """Write a set of sibling files whole or not at all.

    Parameters
    ----------
    writers : mapping of path to callable
        Target file -> function that writes that file's content to the path it is given (a
        temporary path in the same folder).
    stem : path, optional
        Name of the set (its lock and temporary folder are named after it); default: the first
        target.
    option : str
        How the user named the output, for messages (``"--out"``).
    notify : callable
        Receives one-line notices (replacing existing files, cleaning up after a killed run).

    Returns
    -------
    list of Path
        The targets, in the order given.

    Raises
    ------
    OutputError
        A target is a folder or read-only, the folder is read-only, or writing failed (disk
        full, permission); every target is then as it was before the call.
    OutputLockedError
        Another process is writing the same set.

    Notes
    -----
    Every file is written and flushed in a temporary sibling folder first; a writer that raises
    leaves the targets untouched. Then each existing target is moved into the temporary folder
    and its new version into place; if a move fails, the moves already made are undone. A commit
    killed between two moves is undone by the next writer of the same set (the journal lists
    which targets existed before).
    """
    targets = [Path(p) for p in writers]
    if not targets:
        return []
    parent = targets[0].parent
    if any(t.parent != parent for t in targets):
        raise ValueError("write_files: every file of a set must be in the same folder")
    name = Path(stem).name if stem is not None else targets[0].name
    created = _make_parents(parent, option)
    try:
        _check_writable_folder(parent, option)
        for target in targets:
            if target.is_dir():
                raise _output_error(errno.EISDIR, f"{option}: {target} is a folder; a file of this name "
                                                  "was to be written. Nothing was written.")
            if target.exists() and _read_only(target):
                raise _output_error(errno.EACCES,
                                    f"{option}: {target} is read-only, so none of "
                                    f"{', '.join(t.name for t in targets)} was written (all are left as "
                                    f"they were). Make it writable or choose another output path")
        with _locked(parent / name, notify, option):
            _recover(parent / name, notify)
            stage = parent / f".{name}{_TMP}{os.getpid()}-{secrets.token_hex(4)}"
            try:
                _stage_files(stage, targets, writers)
                replaced = _commit_files(stage, targets)
            except BaseException as exc:
                shutil.rmtree(stage, ignore_errors=True)
                _raise_unchanged(exc, option, ", ".join(str(t) for t in targets),
                                 "nothing was changed: every file is as it was before")
            shutil.rmtree(stage, ignore_errors=True)
    except BaseException:
        _remove_empty(created)
        raise
    if replaced:
        notify(f"replaced {', '.join(str(t) for t in replaced)} (files of an earlier run)")
    return targets


def _stage_files(stage: Path, targets: list[Path], writers: Mapping) -> None:
    (stage / "new").mkdir(parents=True)
    (stage / "old").mkdir()
    for target, write in zip(targets, writers.values()):
        staged = stage / "new" / target.name
        write(staged)
        if not staged.is_file():
            raise OSError(errno.EIO, "the writer produced no file", str(target))
        _fsync_file(staged)
    _fsync_dir(stage / "new")


def _commit_files(stage: Path, targets: list[Path]) -> list[Path]:
    existed = [t.name for t in targets if t.exists()]
    journal = stage / _JOURNAL
    journal.write_text(json.dumps({"names": [t.name for t in targets], "existed": existed}),
                       encoding="utf-8")
    _fsync_file(journal)
    _fsync_dir(stage)
    parent = targets[0].parent
    try:
        for target in targets:
            if target.name in existed:
                os.replace(target, stage / "old" / target.name)
            os.replace(stage / "new" / target.name, target)
        _fsync_dir(parent)
    except BaseException:
        _rollback_files(stage, parent)
        raise
    journal.unlink()  # from here on the commit stands, even if cleaning up is interrupted
    return [t for t in targets if t.name in existed]


def _rollback_files(stage: Path, parent: Path) -> list[str]:
    record = json.loads((stage / _JOURNAL).read_text(encoding="utf-8"))
    for name in record["names"]:
        backup, target = stage / "old" / name, parent / name
        if backup.exists():
            os.replace(backup, target)
        elif name not in record["existed"] and target.exists() and not (stage / "new" / name).exists():
            target.unlink()  # a new file this commit had put in place
    _fsync_dir(parent)
    (stage / _JOURNAL).unlink()
    return list(record["names"])


# -- folder sets ----------------------------------------------------------------------------
class Stage:
    """The temporary folder a folder set is written into; becomes the target on success."""

    def __init__(self, path: Path, target: Path) -> None:
        self.path = path
        self.target = target

    def files(self) -> list[str]:
        """Relative paths (POSIX form) of the files written so far, sorted."""
        out = []
        for folder, _dirs, names in os.walk(self.path):
            for name in names:
                rel = (Path(folder) / name).relative_to(self.path).as_posix()
                if rel != MARKER:
                    out.append(rel)
        return sorted(out)

    def sha256(self, exclude: Sequence[str] = ()) -> dict[str, str]:
        """Relative path -> SHA-256 of every file written so far (except ``exclude``)."""
        return {rel: sha256_file(self.path / rel) for rel in self.files() if rel not in exclude}


@contextmanager
def write_directory(target: str | os.PathLike[str], *, option: str = "output folder",
                    adopt: Callable[[Path], bool] | None = None,
                    notify: Notify = stderr_notify) -> Iterator[Stage]:
    """Write a folder of results whole: ``with write_directory(out) as stage: ... stage.path``.

    Parameters
    ----------
    target : path
        The folder the set ends up in. It may be missing, empty, or hold an earlier set written
        by this function (it carries the :data:`MARKER` file); anything else is refused so that
        a mistyped path cannot delete someone's files.
    option : str
        How the user named the folder, for messages.
    adopt : callable, optional
        ``adopt(folder) -> bool`` recognises an earlier set written before the marker existed.
    notify : callable
        Receives one-line notices (replacing the earlier set, leaving it as it was, cleaning up).

    Yields
    ------
    Stage
        ``stage.path`` is the temporary folder to write into.

    Raises
    ------
    OutputError, OutputLockedError
        The target cannot take the set, another run holds it, or writing failed. An exception
        raised inside the ``with`` block propagates unchanged (an ``OSError`` becomes an
        ``OutputError`` naming the target); in every case the target is left as it was.

    Notes
    -----
    On success: every file is flushed, the earlier set is renamed aside, the new folder renamed
    into place, the earlier set deleted. If the process dies between the two renames, the next
    run puts the earlier set back.
    """
    target = Path(os.path.abspath(target))  # "o/" and "./o" name the same set as "o"
    if Path.cwd().is_relative_to(target):
        raise _output_error(errno.EBUSY, f"{option} {target} is the current folder or contains it; "
                                         "nothing was written. Name a folder for the results inside it")
    created = _make_parents(target.parent, option)
    try:
        _check_writable_folder(target.parent, option)
        with _locked(target, notify, option):
            _recover(target, notify)
            earlier = _earlier_set(target, option, adopt)
            stage = Stage(target.parent / f".{target.name}{_TMP}{os.getpid()}-{secrets.token_hex(4)}",
                          target)
            try:
                stage.path.mkdir()
                yield stage
                new_files = stage.files()
                (stage.path / MARKER).write_text(
                    "Written by gvcpanel as one set; the next run replaces the whole folder.\n"
                    + "".join(f"{rel}\n" for rel in new_files), encoding="utf-8")
                _fsync_tree(stage.path)
                _swap_in(stage.path, target)
            except BaseException as exc:
                shutil.rmtree(stage.path, ignore_errors=True)
                if not earlier:
                    state = f"{target} was not written; nothing of this run is left behind"
                else:
                    state = (f"{target} was left as it was: the earlier complete set ({len(earlier)} "
                             "files) is untouched")
                _raise_unchanged(exc, option, str(target), state)
    except BaseException:
        _remove_empty(created)
        raise
    if earlier:
        gone = sorted(set(earlier) - set(new_files))
        note = f"; {len(gone)} of its files are not in the new set: {', '.join(gone[:5])}" if gone else ""
        notify(f"replaced the earlier set in {target} ({len(earlier)} files) with this run's "
               f"{len(new_files)} files{note}")


def _earlier_set(target: Path, option: str, adopt: Callable[[Path], bool] | None) -> list[str] | None:
    """Files of the set now in ``target`` (None when there is none); refuse foreign folders."""
    if not target.exists() and not target.is_symlink():
        return None
    if target.is_symlink():
        raise _output_error(errno.ELOOP, f"{option} {target} is a symbolic link; nothing was written. "
                                         "Give the folder it points to, or another folder")
    if not target.is_dir():
        raise _output_error(errno.ENOTDIR, f"{option} {target} is a file, not a folder; nothing was "
                                           "written. Choose a folder name (it is created if missing)")
    if _read_only(target):
        raise _output_error(errno.EACCES, f"{option} {target} is read-only; nothing was written. Make "
                                          f"it writable (chmod u+w {target}) or choose another folder")
    entries = sorted(p.name for p in target.iterdir())
    if not entries:
        return []
    if MARKER not in entries and not (adopt is not None and adopt(target)):
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise _output_error(errno.EEXIST,
                            f"{option} {target} already holds files that gvcpanel did not write as a set "
                            f"({shown}); to keep them safe it is not replaced and nothing was written. "
                            "Choose a new or empty folder")
    return Stage(target, target).files()


def _swap_in(stage: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.parent / f".{target.name}{_OLD}{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(target, old)
    try:
        os.rename(stage, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    _fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# -- shared ---------------------------------------------------------------------------------
@contextmanager
def _locked(target: Path, notify: Notify, option: str) -> Iterator[None]:
    lock = _Lock(target, notify)
    try:
        lock.acquire()
    except OutputError:
        raise
    except OSError as exc:
        raise _output_error(None, f"{option}: cannot create the lock file {lock.path}: "
                                  f"{_describe_os_error(exc)}; nothing was written", exc) from exc
    try:
        yield
    finally:
        lock.release()


def _raise_unchanged(exc: BaseException, option: str, what: str, state: str) -> None:
    """Re-raise ``exc`` saying what became of the output; an OSError becomes an OutputError."""
    if isinstance(exc, OSError) and not isinstance(exc, OutputError):
        raise _output_error(None, f"{option}: could not write {what}: {_describe_os_error(exc)}; "
                                  f"{state}", exc) from exc
    if isinstance(exc, Exception):  # not for KeyboardInterrupt/SystemExit: no note to add there
        exc.add_note(state)
    raise exc


__all__ = ["KNOWN_FILE_TYPES", "MARKER", "OutputFiles", "Stage", "hold_lock", "lock_path",
           "output_files", "sha256_file", "stderr_notify", "write_directory", "write_files"]
