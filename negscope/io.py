"""Atomic writes for every result negscope puts on disk, and the lock that keeps one process per output folder."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` that replaces it only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    tmp_path.chmod(0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_csv(path: str | os.PathLike, header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Path:
    """Write a header line and `rows` as CSV to `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return Path(path)


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write `data` as indented JSON to `path` atomically."""
    return write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, naming the file if it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; run the stage that writes it first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); delete it and rerun the stage") from err


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


LOCK = ".negscope.lock"


class OutFolderError(ValueError):
    """An output folder that cannot be written, or that another negscope process is writing."""


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


def _take_lock(folder: Path) -> Path:
    lock = folder / LOCK
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = lock.read_text(encoding="utf-8").strip() if lock.is_file() else ""
            if holder.isdigit() and _running(int(holder)):
                raise OutFolderError(
                    f"output folder {folder} is in use by negscope process {holder}; wait for it to finish or choose "
                    f"another --out (delete {lock} if that process is not negscope)"
                ) from None
            lock.unlink(missing_ok=True)  # left by a process that is gone
            continue
        except OSError as err:
            raise OutFolderError(f"output folder {folder} is not writable ({err.strerror}); choose another --out") from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(str(os.getpid()))
        return lock
    raise OutFolderError(f"output folder {folder}: another process took the lock {lock} at the same moment; rerun")


@contextmanager
def out_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Hold `path` as this run's output folder: create it, failing at once when it is a file or not writable, and
    lock it against a second negscope run (a lock left by a dead process is taken over). Under torchrun only rank 0
    takes the lock, for all ranks. A folder this call created is removed again if nothing was written to it."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutFolderError(f"output folder {folder} is a file; choose another --out")
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutFolderError(f"output folder {folder} cannot be created ({err.strerror}); choose another --out") from None
    if int(os.environ.get("RANK", "0")) != 0:
        yield folder
        return
    lock = _take_lock(folder)
    try:
        yield folder
    finally:
        lock.unlink(missing_ok=True)
        if created and not any(folder.iterdir()):
            folder.rmdir()
