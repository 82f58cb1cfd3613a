import os
import stat
from pathlib import Path

import pytest

from recommender.atomic import atomic_output, atomic_write_bytes


def test_success_replaces_the_file_with_normal_permissions(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.bin"
    atomic_write_bytes(target, b"old")
    with atomic_output(target) as stream:
        stream.write(b"new")
        assert target.read_bytes() == b"old"  # readers still see the old file meanwhile
    assert target.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert os.listdir(target.parent) == ["out.bin"]


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    atomic_write_bytes(target, b"old")

    def interrupted() -> None:
        with atomic_output(target) as stream:
            stream.write(b"partial")
            raise RuntimeError("half way")

    with pytest.raises(RuntimeError, match="half way"):
        interrupted()
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]
