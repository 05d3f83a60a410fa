"""The data-folder lock: one holder at a time, the next one told who holds it, nothing left held."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gasguard.datalock import LOCK_FILE, DataFolderInUseError, lock_data_folder, read_holder


def test_a_held_folder_is_refused_with_the_holders_pid_command_and_port(tmp_path: Path) -> None:
    with lock_data_folder(tmp_path, command="gasguard demo", host="127.0.0.1", port=8000) as held:
        assert held.held
        with pytest.raises(DataFolderInUseError) as refused:
            lock_data_folder(tmp_path, command="gasguard serve", port=9000, hint="use --data-dir")
        assert str(refused.value) == (
            f"data folder {tmp_path.resolve()} is in use by gasguard demo (pid {os.getpid()}, port 8000): "
            "stop it first or use --data-dir"
        )
        assert refused.value.holder is not None and refused.value.holder.pid == os.getpid()
    assert not held.held
    assert (tmp_path / LOCK_FILE).read_text() == ""  # released: no holder named any more
    assert read_holder(tmp_path, wait_s=0) is None
    with lock_data_folder(tmp_path, command="gasguard serve", port=9000) as again:
        assert read_holder(tmp_path) == again.holder


def test_an_unreadable_holder_is_still_refused(tmp_path: Path) -> None:
    with lock_data_folder(tmp_path, command="gasguard demo") as held:
        held.path.write_text("not json")
        with pytest.raises(DataFolderInUseError, match="another GasGuard process"):
            lock_data_folder(tmp_path, command="gasguard demo")
