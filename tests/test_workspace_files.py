"""The workspace's files as git and the user see them (model/workspace/files.py), and the index's
cache on disk (model/workspace/cache.py)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from heed.model.workspace import files
from heed.model.workspace.cache import FORMAT, IndexCache, user_cache_dir
from heed.model.workspace.files import in_project, parse_pattern, readable_source, walk
from heed.model.workspace.summary import Reader


def tree(root: Path, paths: dict[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in paths.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def found(root: Path, exclude: tuple[str, ...] = ()) -> set[str]:
    return {p.relative_to(root).as_posix() for p in walk(root, exclude).files}


@pytest.mark.parametrize(("pattern", "rel", "is_dir", "expected"), [
    ("*.py", "a/b.py", False, True),
    ("build/", "build", True, True),
    ("build/", "src/build", True, True),
    ("build/", "build", False, False),  # a file named build is not the folder
    ("/build/", "src/build", True, False),  # a leading slash anchors, folder-only or not
    ("/top.py", "top.py", False, True),
    ("/top.py", "pkg/top.py", False, False),
    ("**/gen/*.py", "gen/x.py", False, True),
    ("**/gen/*.py", "a/b/gen/x.py", False, True),
    ("**/gen/*.py", "a/gen/b/x.py", False, False),
    ("a/**/b.py", "a/b.py", False, True),
    ("a/**/b.py", "a/x/y/b.py", False, True),
    ("doc/*.py", "doc/x.py", False, True),
    ("doc/*.py", "src/doc/x.py", False, False),  # a slash in the middle anchors too
    ("[!a]x.py", "bx.py", False, True),
    ("[!a]x.py", "ax.py", False, False),
    ("te?t.py", "test.py", False, True),
    ("\\#x.py", "#x.py", False, True),
])
def test_gitignore_patterns(pattern: str, rel: str, is_dir: bool, expected: bool) -> None:
    rule = parse_pattern(pattern)
    assert rule is not None
    assert files.ignored([("", [rule])], rel, is_dir) is expected


@pytest.mark.parametrize("line", ["", "   ", "# a comment", "/", "!"])
def test_lines_that_are_no_pattern(line: str) -> None:
    assert parse_pattern(line) is None


def test_the_walk_honours_gitignore_files_at_every_level_and_the_users_exclusions(tmp_path: Path) -> None:
    root = tree(tmp_path, {
        ".gitignore": "*.py\n!keep.py\n!/pkg/\nbuild/\n/top.py\n**/gen/*.py\n",
        "keep.py": "", "drop.py": "", "top.py": "",
        "pkg/keep.py": "", "pkg/top.py": "", "pkg/gen/made.py": "", "gen/made.py": "",
        "build/keep.py": "", "src/build/keep.py": "",
        "sub/.gitignore": "!*.py\nlocal_only.py\n", "sub/mod.py": "", "sub/local_only.py": "", "sub/deeper/local_only.py": "",
        "other/local_only.py": "",
    })
    # `*.py` ignores all, `!keep.py` takes keep.py back at every level, `!/pkg/` nothing (a folder
    # is never ignored by `*.py`); sub/.gitignore takes its files back, except local_only.py anywhere
    # under it; other/ is not under sub/.
    assert found(root) == {"keep.py", "pkg/keep.py", "sub/mod.py"}
    assert found(root, ("sub/", "keep.py")) == set()  # a .gitignore's `!keep.py` never takes back the user's
    tree(tmp_path, {".gitignore": ""})
    assert found(root) == {"keep.py", "drop.py", "top.py", "pkg/keep.py", "pkg/top.py", "pkg/gen/made.py",
                           "gen/made.py", "build/keep.py", "src/build/keep.py", "sub/mod.py", "other/local_only.py"}
    assert found(root, ("/top.py", "gen/", "build/", "!src/build/")) == {  # the last match decides
        "keep.py", "drop.py", "pkg/keep.py", "pkg/top.py", "src/build/keep.py", "sub/mod.py", "other/local_only.py"}


def test_virtual_environments_and_tool_folders_are_left_out_and_counted(tmp_path: Path) -> None:
    root = tree(tmp_path, {
        "app.py": "", "myenv/pyvenv.cfg": "home = /usr/bin\n", "myenv/lib/site.py": "",
        ".venv/x.py": "", "node_modules/y.py": "", "__pycache__/z.py": "", "pkg.egg-info/w.py": "",
    })
    result = walk(root)
    assert [p.name for p in result.files] == ["app.py"]
    assert result.skipped["not the project's code"] == 5


def test_in_project_agrees_with_the_walk(tmp_path: Path) -> None:
    root = tree(tmp_path, {
        ".gitignore": "build/\n/top.py\n", "top.py": "", "a/top.py": "", "build/x.py": "", "a/build/x.py": "",
        "a/.gitignore": "secret.py\n", "a/secret.py": "", "a/b/secret.py": "", "ok.py": "", "venv/pyvenv.cfg": "",
        "venv/x.py": "", "a/b/c.py": "", "notes.txt": "",
    })
    everything = [p for p in root.rglob("*") if p.is_file()]
    walked = set(walk(root, ("a/b/c.py",)).files)
    assert walked == {root / "a/top.py", root / "ok.py"}
    assert {p for p in everything if in_project(root, p, ("a/b/c.py",))} == walked
    assert not in_project(root / "a", root / "ok.py")


def test_a_symlink_loop_does_not_hang_the_walk(tmp_path: Path) -> None:
    root = tree(tmp_path, {"pkg/mod.py": ""})
    os.symlink(root, root / "pkg" / "loop")  # a folder that holds itself
    os.symlink(root / "pkg" / "self.py", root / "pkg" / "self.py")  # a file link to itself
    os.symlink(root / "pkg" / "mod.py", root / "pkg" / "alias.py")  # a file link is a file
    assert found(root) == {"pkg/mod.py", "pkg/alias.py"}


def test_unreadable_folders_are_skipped_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree(tmp_path, {"ok.py": "", "locked/x.py": "", "locked/inner/y.py": ""})
    real = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]  # a folder even root cannot read
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(files.os, "scandir", scandir)
    result = walk(root)
    assert [p.name for p in result.files] == ["ok.py"]
    assert result.skipped["unreadable folder"] == 1


def test_the_file_limit_stops_the_walk_and_counts_the_rest_of_its_folder(tmp_path: Path) -> None:
    root = tree(tmp_path, {f"a/m{i:02}.py": "" for i in range(12)} | {"b/later.py": ""})
    result = walk(root, max_files=5)
    assert [p.name for p in result.files] == [f"m{i:02}.py" for i in range(5)]
    assert result.skipped == Counter({"past the file limit": 7, "walk stopped at the file limit": 1})  # b/ not walked
    result = walk(root, max_files=12)  # reached at the end of a/
    assert len(result.files) == 12 and result.skipped == Counter({"walk stopped at the file limit": 1})
    assert len(walk(root, max_files=13).files) == 13 and not walk(root, max_files=13).skipped


def test_the_paced_walk_says_when_it_moves_to_the_next_folder(tmp_path: Path) -> None:
    """Folders with no Python file in them still give a slice's caller a chance to stop."""
    root = tree(tmp_path, {f"data{i}/x.json": "" for i in range(5)} | {"z/mod.py": ""})
    paced = list(files.paced_python_files(root, (), Counter()))
    assert paced == [None] * 7 + [root / "z" / "mod.py"]  # the root, 5 data folders, z


@pytest.mark.parametrize(("content", "why"), [
    (b"x = 1\0\0\0", "binary"),
    ("x = 'caf\u00e9'\n".encode("latin-1"), "not UTF-8"),
    (b"# @generated by a tool\nx = 1\n", "generated"),
    (b"# Code generated by protoc. DO NOT EDIT.\nx = 1\n", "generated"),
    (b"data = [" + b"1, " * 5000 + b"]\n", "generated"),  # one enormous line: minified or data
    (b"x = 1\n" * 200_000, "huge"),
])
def test_files_that_are_not_code_to_read_are_skipped_with_a_reason(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(content)
    assert readable_source(path) == (None, why)


def test_a_plain_file_is_read_with_its_line_ends_made_plain(tmp_path: Path) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(b"x = 1\r\ny = 'caf\xc3\xa9'\r\n")
    assert readable_source(path) == ("x = 1\ny = 'caf\u00e9'\n", "")
    assert readable_source(tmp_path / "gone.py") == (None, "unreadable")


# -- the cache ------------------------------------------------------------------------------------
def summary_of(path: Path, text: str = "class A:\n    def f(self):\n        return 1\n"):  # type: ignore[no-untyped-def]
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    reader = Reader(path, text, path.stem, stat.st_size, stat.st_mtime_ns)
    summary = reader.advance(float("inf"))
    assert summary is not None
    return summary


def test_the_cache_gives_back_what_it_saved_while_the_file_is_unchanged(tmp_path: Path) -> None:
    root = tree(tmp_path / "project", {})
    summary = summary_of(root / "mod.py")
    cache = IndexCache(root, tmp_path / "cache")
    assert cache.save(summary)
    again = IndexCache(root, tmp_path / "cache").load(summary.path, summary.size, summary.mtime_ns)
    assert again is not None and again.to_json() == summary.to_json()
    assert again.module is not None and "A" in again.module.names
    assert cache.load(summary.path, summary.size + 1, summary.mtime_ns) is None  # changed since
    assert cache.load(root / "other.py", summary.size, summary.mtime_ns) is None  # never saved
    assert cache.dropped == 0


@pytest.mark.parametrize("content", [
    b"{not json", b"\xff\xfe\x00", b"[" * 100_000, b"[]", b'{"format": 3}',
    json.dumps({"format": FORMAT, "summary": {"path": "x"}}).encode(),
    json.dumps({"format": "heed-index-0/old", "summary": {}}).encode(),
])
def test_a_corrupt_or_other_version_entry_is_dropped_and_counted(tmp_path: Path, content: bytes) -> None:
    root = tree(tmp_path / "project", {})
    summary = summary_of(root / "mod.py")
    cache = IndexCache(root, tmp_path / "cache")
    cache.folder.mkdir(parents=True)
    cache.entry(summary.path).write_bytes(content)
    assert cache.load(summary.path, summary.size, summary.mtime_ns) is None
    assert cache.dropped == 1
    assert cache.save(summary) and cache.load(summary.path, summary.size, summary.mtime_ns) is not None


def test_a_cache_that_cannot_be_written_says_why(tmp_path: Path) -> None:
    root = tree(tmp_path / "project", {"not-a-folder": "a file"})
    summary = summary_of(root / "mod.py")
    cache = IndexCache(root, root / "not-a-folder" / "cache")  # read-only for root too
    assert not cache.save(summary)
    assert "could not be written" in cache.failed
    assert cache.load(summary.path, summary.size, summary.mtime_ns) is None


def test_prune_keeps_only_the_files_still_there(tmp_path: Path) -> None:
    root = tree(tmp_path / "project", {})
    kept, gone = summary_of(root / "kept.py"), summary_of(root / "gone.py")
    cache = IndexCache(root, tmp_path / "cache")
    assert cache.save(kept) and cache.save(gone)
    cache.prune({kept.path})
    assert sorted(os.listdir(cache.folder)) == [cache.entry(kept.path).name]


def test_the_cache_folder_is_heed_cache_when_set_and_not_empty(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEED_CACHE", str(tmp_path))
    assert user_cache_dir() == tmp_path
    monkeypatch.setenv("HEED_CACHE", "")
    assert user_cache_dir() == Path.home() / ".cache" / "heed"


def test_a_root_that_does_not_exist_is_an_unreadable_folder(tmp_path: Path) -> None:
    result = walk(tmp_path / "gone")
    assert result.files == [] and result.skipped == Counter({"unreadable folder": 1})
