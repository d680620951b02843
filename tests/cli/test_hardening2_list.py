"""`cnncost list --format csv|json` (issue 21, item 4): the table of every built-in is computed
once per options and source files, then read from the cache: the same bytes, without compiling."""
from __future__ import annotations

import time

import cnncost.frames
from cnncost.cli import main


def test_list_is_computed_once_then_read_from_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNCOST_CACHE_DIR", str(tmp_path))
    assert main(["list", "resnet*", "--format", "csv"]) == 0
    first = capsys.readouterr().out
    assert len(list(tmp_path.iterdir())) == 1

    def no_compiling(*args, **kwargs):
        raise AssertionError("the cached table was computed again")
    monkeypatch.setattr(cnncost.frames, "zoo_frame", no_compiling)
    start = time.perf_counter()
    assert main(["list", "resnet*", "--format", "csv"]) == 0
    assert time.perf_counter() - start < 0.5
    assert capsys.readouterr().out == first
    assert main(["list", "resnet*", "--format", "json"]) == 0  # the same table, another format
    assert '"architectures"' in capsys.readouterr().out
    assert main(["list", "resnet*", "--format", "csv", "--batch", "7"]) == 2  # other options: another entry
    assert "computed again" in capsys.readouterr().err


def test_a_broken_cache_file_is_recomputed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNCOST_CACHE_DIR", str(tmp_path))
    assert main(["list", "alexnet", "--format", "csv"]) == 0
    good = capsys.readouterr().out
    (cache,) = tmp_path.iterdir()
    cache.write_text('{"columns": ["x"], "rows": [[1, 2]]}')
    assert main(["list", "alexnet", "--format", "csv"]) == 0
    assert capsys.readouterr().out == good
