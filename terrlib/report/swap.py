"""Putting a finished report in place without ever losing the previous one.

A quarter's report (``reports/<q>``) and its processed data (``data/processed/<q>``) are built
in hidden folders beside their targets, so on the same filesystem, where a rename is atomic
and never becomes a copy. :func:`install` then swaps both in as one step: a journal lists the
renames before the first is made; on any error every target gets its previous version back;
and a run killed half-way is rolled back by :func:`recover` at the start of the next run, so
report and processed data always come from one run. :class:`QuarterLock` keeps two runs of
one quarter apart, and :func:`clean_stale` removes what a killed run left behind.

Examples
--------
>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> (root / "new").mkdir(); (root / "new" / "page.html").write_text("new")
3
>>> install([(root / "new", root / "2026Q3")], root / ".swap-2026Q3.json")
>>> (root / "2026Q3" / "page.html").read_text()
'new'
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


class LockedError(RuntimeError):
    """Another run holds the lock of this quarter."""


def journal(root: Path, quarter: str) -> Path:
    """The journal file of a swap of ``quarter`` (kept in the report root)."""
    return root / f".swap-{quarter}.json"


def build_folder(root: Path, quarter: str) -> Path:
    """A new hidden folder in ``root`` to build ``quarter`` in (same filesystem as its
    target), with the permissions of an ordinary folder."""
    folder = Path(tempfile.mkdtemp(prefix=f".build-{quarter}-", dir=root))
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)  # mkdtemp's folder is private; the data folder is not
    return folder


def left_behind(*roots: Path) -> set[str]:
    """Quarters with build folders or a swap journal in ``roots`` (what runs left)."""
    found = set()
    for root in roots:
        for path in root.glob(".build-*-*"):
            found.add(path.name.split("-")[1])
        for path in root.glob(".swap-*.json"):
            found.add(path.name[len(".swap-") : -len(".json")])
    return found


def _backup(target: Path) -> Path:
    return target.with_name(f".{target.name}.previous")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _roll_back(entries: list[dict]) -> None:
    """Give every target of ``entries`` its state from before the swap: the previous
    version where there was one, nothing where there was none."""
    for entry in reversed(entries):
        target, backup = Path(entry["target"]), Path(entry["backup"])
        if backup.exists():
            if target.exists():
                shutil.rmtree(target)
            os.rename(backup, target)
        elif not entry["had_previous"] and target.exists() and not Path(entry["new"]).exists():
            shutil.rmtree(target)  # this swap had put it there


def install(pairs: list[tuple[Path, Path]], journal: Path) -> None:
    """Move each ``new`` folder to its ``target`` (same filesystem), all or none.

    Each target's previous version is renamed aside first and deleted only once every new
    folder is in place. If any step fails, the previous versions are put back and the error
    is raised; if the process dies, :func:`recover` with the same ``journal`` puts them back.

    Parameters
    ----------
    pairs : list of (path, path)
        The new folders and where they go.
    journal : path
        A file that records the swap while it is under way.
    """
    entries = []
    for new, target in pairs:
        target = Path(target)
        entries.append(
            {
                "new": str(Path(new).resolve()),
                "target": str(target.resolve()),
                "backup": str(_backup(target).resolve()),
                "had_previous": target.exists(),
            }
        )
    for entry in entries:  # a stale backup (from a run killed after it committed)
        if Path(entry["backup"]).exists():
            shutil.rmtree(entry["backup"])
    _write_atomic(journal, json.dumps(entries, indent=1))
    try:
        for entry in entries:
            target = Path(entry["target"])
            if entry["had_previous"]:
                os.rename(target, entry["backup"])
            os.rename(entry["new"], target)
    except BaseException:
        _roll_back(entries)
        journal.unlink()
        raise
    journal.unlink()  # committed: from here the new versions stand
    for entry in entries:
        shutil.rmtree(entry["backup"], ignore_errors=True)


def recover(journal: Path) -> bool:
    """Roll back a swap that a killed run left half done; ``True`` when there was one."""
    if not journal.is_file():
        return False
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))
    except ValueError:  # killed while writing it: no rename had been made
        entries = []
    _roll_back(entries)
    journal.unlink()
    return True


def clean_stale(root: Path, quarter: str) -> list[Path]:
    """Remove the build folders and backups of ``quarter`` that a killed run left in
    ``root`` (call it holding the quarter's lock); a target left missing gets its backup
    back. Returns what was removed."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    target = root / quarter
    backups = [_backup(target), *sorted(root.glob(f".{quarter}.old-*"))]
    for backup in backups:
        if backup.is_dir() and not target.exists():
            os.rename(backup, target)
    for leftover in [*sorted(root.glob(f".build-{quarter}-*")), *backups]:
        if leftover.exists():
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover)
    return removed


class QuarterLock:
    """An exclusive lock on one quarter in each of some folders, held by this process.

    Raises :class:`LockedError` at once when another run holds it. The lock files
    (``.lock-<quarter>``) stay; the operating system releases the lock when the process
    ends, however it ends.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with QuarterLock([folder], "2026Q3"):
    ...     try:
    ...         QuarterLock([folder], "2026Q3").acquire()
    ...     except LockedError as exc:
    ...         print("refused")
    refused
    """

    def __init__(self, folders: list[Path], quarter: str):
        self.paths = list(dict.fromkeys(Path(f).resolve() / f".lock-{quarter}" for f in folders))
        self.quarter = quarter
        self._handles: list[int] = []

    def acquire(self) -> QuarterLock:
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                else:
                    msvcrt.locking(handle, msvcrt.LK_NBLCK, 1)
            except OSError:
                os.close(handle)
                self.release()
                raise LockedError(
                    f"another run is building {self.quarter} (lock {path}); wait for it to "
                    "finish or stop it, then run again"
                ) from None
            os.ftruncate(handle, 0)
            os.write(handle, str(os.getpid()).encode())
            self._handles.append(handle)
        return self

    def release(self) -> None:
        while self._handles:
            os.close(self._handles.pop())  # closing releases the lock

    def __enter__(self) -> QuarterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
