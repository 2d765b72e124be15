import os
import subprocess
import sys

import pytest

from negscope.io import LOCK, OutFolderError, out_folder


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_out_folder_is_created_locked_and_released(tmp_path):
    with out_folder(tmp_path / "a" / "b") as folder:
        assert (folder / LOCK).read_text() == str(os.getpid())
        (folder / "result.json").write_text("{}")
    assert not (folder / LOCK).exists() and (folder / "result.json").is_file()


def test_a_live_holder_is_named_and_keeps_its_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tmp_path.joinpath(LOCK).write_text(str(holder.pid))
        with pytest.raises(OutFolderError, match=f"in use by negscope process {holder.pid}"), out_folder(tmp_path):
            pass
        assert tmp_path.joinpath(LOCK).read_text() == str(holder.pid)
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    tmp_path.joinpath(LOCK).write_text(str(_dead_pid()))
    with out_folder(tmp_path):
        assert tmp_path.joinpath(LOCK).read_text() == str(os.getpid())
    assert not tmp_path.joinpath(LOCK).exists()


def test_a_file_or_a_path_under_a_file_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "f").write_text("keep me")
    for bad in (tmp_path / "f", tmp_path / "f" / "sub"):
        with pytest.raises(OutFolderError, match="choose another --out"), out_folder(bad):
            pytest.fail("the block must not run")
    assert (tmp_path / "f").read_text() == "keep me"


def test_a_folder_created_for_a_failed_command_is_removed_when_empty(tmp_path):
    with pytest.raises(ValueError, match="bad config"), out_folder(tmp_path / "new"):
        raise ValueError("bad config")
    assert not (tmp_path / "new").exists()


def test_only_rank_zero_takes_the_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    with out_folder(tmp_path / "o") as folder:
        assert folder.is_dir() and not (folder / LOCK).exists()
