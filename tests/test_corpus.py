"""The corpus pipeline: skipped files, the content-hash token cache (hits, changes, corruption),
deterministic splits, and what lands on disk."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from heed.model.text.vocab import KIND_ID, SPECIALS, TOKENIZER_VERSION, Vocab
from heed.model.training import corpus, held_out
from heed.model.training.corpus import (
    Source,
    build_corpus,
    find_files,
    load_split,
    split_of,
    tokenize_file,
    tokenize_source,
)

GOOD = {
    "a.py": "import os\n\n\ndef f(path):\n    return os.path.join(path, 'x')\n",
    "b.py": "class C:\n    def m(self, a=1):\n        self.a = a\n        return self.a + 1\n",
    "pkg/c.py": "from a import f\n\nfor i in range(3):\n    print(f(i), i)\n",
}
SKIPPED = {"not_utf8": 1, "syntax_error": 1, "too_large": 1}
LIMIT = 2_000  # bytes: MAX_FILE_BYTES for these tests


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of three good files and three that must be skipped, one reason each."""
    monkeypatch.setattr(corpus, "MAX_FILE_BYTES", LIMIT)
    src = tmp_path / "src"
    for name, text in GOOD.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text, encoding="utf-8")
    (src / "latin1.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
    (src / "broken.py").write_text("def f(:\n    return\n", encoding="utf-8")
    (src / "huge.py").write_text("x = 1\n" * (LIMIT // 6 + 10), encoding="utf-8")
    (src / "notes.txt").write_text("not python\n", encoding="utf-8")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "a.py").write_text("x = 1\n", encoding="utf-8")
    return src


def build(src: Path, tmp_path: Path, out: str = "corpus", **kwargs) -> corpus.BuildStats:  # type: ignore[no-untyped-def]
    kwargs.setdefault("cache_dir", tmp_path / "cache")
    return build_corpus(tmp_path / out, [Source(src, "proj")], vocab_size=200, min_count=1, jobs=1,
                        progress=False, **kwargs)


def corpus_arrays(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for split in corpus.SPLITS:
        with np.load(folder / f"{split}.npz", allow_pickle=False) as data:
            out.update({f"{split}.{k}": data[k] for k in data.files})
    return out


def assert_same_corpus(a: Path, b: Path) -> None:
    arrays_a, arrays_b = corpus_arrays(a), corpus_arrays(b)
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=key)
    assert json.loads((a / "manifest.json").read_text())["files"] == json.loads((b / "manifest.json").read_text())["files"]
    assert (a / "vocab.json").read_text() == (b / "vocab.json").read_text()


def cache_entry(tmp_path: Path, out: str, label: str) -> Path:
    """The cache file of one corpus file, found through the sha in the manifest."""
    files = json.loads((tmp_path / out / "manifest.json").read_text())["files"]
    sha = next(f["sha"] for f in files if f["path"] == label)
    (entry,) = (tmp_path / "cache").rglob(f"{sha}.json")
    return entry


def test_find_files_lists_python_files_only(project: Path) -> None:
    labels = sorted(f.label for f in find_files([Source(project, "proj")]))
    assert labels == sorted(f"proj/{n}" for n in [*GOOD, "latin1.py", "broken.py", "huge.py"])


def test_every_held_out_project_is_never_trained_on() -> None:
    """bench/projects.txt's projects, by their import names: a corpus built for the shipped model
    (`--exclude-eval-packages`) leaves them out, as a machine's site-packages may hold them."""
    listed = Path(__file__).parents[1] / "bench" / "projects.txt"
    rows = [line.split() for line in listed.read_text().splitlines() if line.strip() and not line.startswith("#")]
    sets = {"evaluation": held_out.EVALUATION_PROJECTS, "validation": held_out.VALIDATION_PROJECTS,
            "final": held_out.FINAL_PROJECTS}
    for kind, spec in rows:
        assert spec.split("==")[0].lower().replace("-", "_") in sets[kind], spec
    assert len(rows) >= 20
    assert set(held_out.HELD_OUT_PROJECTS) | set(held_out.EVAL_PACKAGES) == set(held_out.NEVER_TRAINED_ON)


def test_a_held_out_project_is_left_out_wherever_it_is(tmp_path: Path) -> None:
    """Installed whole, vendored inside another package, or one module: none of it is listed."""
    site = tmp_path / "site"
    for rel in ["tenacity/__init__.py", "tenacity/retry.py", "tool/_vendor/tenacity/__init__.py", "bottle.py",
                "tool/__init__.py", "tool/core.py"]:
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("x = 1\n", encoding="utf-8")
    labels = sorted(f.label for f in find_files([Source(site, "site")], held_out.NEVER_TRAINED_ON))
    assert labels == ["site/tool/__init__.py", "site/tool/core.py"]


def test_the_evaluation_packages_are_held_out_whole() -> None:
    """`heed corpus build --eval-packages` and `heed eval`'s default corpus: each installed
    evaluation package is a source whose files all go to the test split."""
    sources = corpus.eval_package_sources()
    assert sorted(s.label for s in sources) == sorted(held_out.EVAL_PACKAGES)  # all three are heed's dependencies
    assert all(s.holdout and (s.root / "__init__.py").is_file() for s in sources)
    assert corpus.default_eval_sources()[1:] == sources


@pytest.mark.parametrize(("layout", "kind"), [(["httpie/__init__.py"], "evaluation"), (["bottle.py"], "evaluation"),
                                              (["mkdocs/__init__.py"], "final"), (["tenacity/__init__.py"], None),
                                              (["mine/__init__.py"], None)])
def test_the_sets_a_project_folder_belongs_to(tmp_path: Path, layout: list[str], kind: str | None) -> None:
    """What `heed calibrate` refuses: a project of the evaluation or final set, as
    bench/fetch_projects.sh unpacks it (a folder holding its package or module) or the package itself."""
    root = tmp_path / "unpacked"
    for rel in layout:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x = 1\n", encoding="utf-8")
    assert held_out.measured_on(root) == kind
    package = root / layout[0].split("/")[0]
    if package.is_dir():
        assert held_out.measured_on(package) == kind


def test_build_counts_skipped_files(project: Path, tmp_path: Path) -> None:
    stats = build(project, tmp_path)
    assert stats.files == 6
    assert (stats.parsed, stats.cached, stats.corrupt_rebuilt) == (3, 0, 0)
    assert stats.skipped == Counter(SKIPPED)
    manifest = json.loads((tmp_path / "corpus" / "manifest.json").read_text())
    assert manifest["skipped"] == SKIPPED
    assert sorted(f["path"] for f in manifest["files"]) == sorted(f"proj/{n}" for n in GOOD)
    assert sum(stats.tokens.values()) == sum(f["tokens"] for f in manifest["files"])


def test_second_build_is_all_cache(project: Path, tmp_path: Path) -> None:
    build(project, tmp_path, "first")
    stats = build(project, tmp_path, "second")
    assert stats.parsed == 0
    assert stats.cached == len(GOOD)
    assert stats.skipped == Counter(SKIPPED)
    assert_same_corpus(tmp_path / "first", tmp_path / "second")


def test_changed_file_is_retokenized(project: Path, tmp_path: Path) -> None:
    build(project, tmp_path, "first")
    (project / "a.py").write_text(GOOD["a.py"] + "y = f('z')\n", encoding="utf-8")
    stats = build(project, tmp_path, "second")
    assert (stats.parsed, stats.cached) == (1, len(GOOD) - 1)
    files = {f["path"]: f for f in json.loads((tmp_path / "second" / "manifest.json").read_text())["files"]}
    assert files["proj/a.py"]["tokens"] == len(tokenize_source((project / "a.py").read_text()).keys)


def _garbage(path: Path) -> None:
    path.write_text("{not json", encoding="utf-8")


def _truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def _flip_checksum(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["check"] = data["check"][::-1]
    path.write_text(json.dumps(data), encoding="utf-8")


def _tamper_tokens(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["keys"][0] = "tampered"  # the checksum no longer matches
    path.write_text(json.dumps(data), encoding="utf-8")


def _drop_roles(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["roles"]
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("corrupt", [_garbage, _truncate, _flip_checksum, _tamper_tokens, _drop_roles],
                         ids=lambda f: f.__name__.strip("_"))
def test_corrupt_cache_entry_is_detected_and_rebuilt(project: Path, tmp_path: Path, corrupt) -> None:  # type: ignore[no-untyped-def]
    build(project, tmp_path, "first")
    entry = cache_entry(tmp_path, "first", "proj/b.py")
    corrupt(entry)
    stats = build(project, tmp_path, "second")
    assert (stats.corrupt_rebuilt, stats.parsed, stats.cached) == (1, 0, len(GOOD) - 1)
    assert_same_corpus(tmp_path / "first", tmp_path / "second")
    # the entry was rewritten: the next build reads everything from the cache
    stats = build(project, tmp_path, "third")
    assert (stats.corrupt_rebuilt, stats.parsed, stats.cached) == (0, 0, len(GOOD))


def test_tokenize_file_statuses(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("x = 1\n", encoding="utf-8")
    cache = tmp_path / "cache"
    status, sha, tokens = tokenize_file(path, cache)
    assert status == "parsed" and len(sha) == 64 and tokens is not None
    assert tokenize_file(path, cache) == ("cached", sha, tokens)
    assert tokenize_file(path, cache, max_bytes=3)[0] == "too_large"
    assert tokenize_file(tmp_path / "missing.py", cache)[0] == "unreadable"
    assert tokens.keys == ["x", "=", "1", "<newline>", "<eof>"]
    assert tokens.kinds == [KIND_ID[k] for k in ("name", "op", "number", "newline", "endmarker")]


def test_split_is_deterministic() -> None:
    labels = [f"src/pkg{i // 50}/mod{i}.py" for i in range(4000)]
    first = [split_of(label) for label in labels]
    assert first == [split_of(label) for label in labels]
    share = Counter(first)
    assert set(share) == {"train", "valid", "test"}
    assert 0.87 < share["train"] / len(labels) < 0.93
    assert 0.03 < share["valid"] / len(labels) < 0.07


def test_same_labels_give_the_same_splits(project: Path, tmp_path: Path) -> None:
    """The split depends on the label (source label + relative path), not on where the folder is."""
    import shutil

    moved = tmp_path / "elsewhere" / "src"
    shutil.copytree(project, moved)
    build(project, tmp_path, "here")
    build(moved, tmp_path, "there")
    assert_same_corpus(tmp_path / "here", tmp_path / "there")
    files = json.loads((tmp_path / "here" / "manifest.json").read_text())["files"]
    assert all(f["split"] == split_of(f["path"]) for f in files)


def test_holdout_source_goes_to_test_whole(project: Path, tmp_path: Path) -> None:
    build_corpus(tmp_path / "corpus", [Source(project, "held", holdout=True)], vocab=Vocab(SPECIALS),
                 cache_dir=tmp_path / "cache", jobs=1, progress=False)
    files = json.loads((tmp_path / "corpus" / "manifest.json").read_text())["files"]
    assert len(files) == len(GOOD) and {f["split"] for f in files} == {"test"}


def test_vocab_and_manifest_carry_the_tokenizer_version(project: Path, tmp_path: Path) -> None:
    build(project, tmp_path)
    folder = tmp_path / "corpus"
    data = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    assert data["tokenizer_version"] == TOKENIZER_VERSION
    assert json.loads((folder / "manifest.json").read_text())["tokenizer_version"] == TOKENIZER_VERSION
    vocab = Vocab.load(folder / "vocab.json")
    assert vocab.tokenizer_version == TOKENIZER_VERSION
    assert vocab.tokens[: len(SPECIALS)] == SPECIALS
    assert corpus.is_corpus(folder)


def test_split_arrays_match_the_files(project: Path, tmp_path: Path) -> None:
    build(project, tmp_path)
    folder = tmp_path / "corpus"
    vocab = Vocab.load(folder / "vocab.json")
    manifest = json.loads((folder / "manifest.json").read_text())["files"]
    for split in corpus.SPLITS:
        data = load_split(folder, split)
        entries = [f for f in manifest if f["split"] == split]
        assert len(data) == len(entries) == len(data.labels)
        for i, entry in enumerate(entries):
            arrays = data.file(i)
            tokens = tokenize_source((project / entry["path"].removeprefix("proj/")).read_text())
            assert len(arrays["ids"]) == entry["tokens"] == len(tokens.keys)
            assert [vocab.tokens[j] for j in arrays["ids"]] == [k if k in vocab.index else "<unk>" for k in tokens.keys]
            assert list(arrays["roles"]) == tokens.roles
            # pointer identities: the vocabulary id, or >= len(vocab) for a name outside it
            for key, kind, ext in zip(tokens.keys, tokens.kinds, arrays["ext"]):
                if key in vocab.index:
                    assert ext == (vocab.index[key] if vocab.answerable()[vocab.index[key]] else -1)
                else:
                    assert (ext >= len(vocab)) == (kind == KIND_ID["name"])


def test_a_near_copy_of_training_code_is_dropped_from_the_held_out_splits(tmp_path: Path,
                                                                          stdlib_files) -> None:  # type: ignore[no-untyped-def]
    """A vendored copy (reformatted, a header added) of a file another source trains on, and a
    copy of a file under a reference folder, leave the test split and are counted; a file that
    only shares its imports stays."""
    train, vendored, reference = tmp_path / "train", tmp_path / "vendored", tmp_path / "reference"
    for folder in (train, vendored, reference):
        folder.mkdir()
    originals = stdlib_files(6, 4_000, 12_000, seed=3)
    for path in originals[:5]:
        (train / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    text = originals[0].read_text(encoding="utf-8")
    (vendored / "copied.py").write_text("# vendored from the standard library\n" + text.replace("    ", "  "), encoding="utf-8")
    (reference / "elsewhere.py").write_text(originals[5].read_text(encoding="utf-8"), encoding="utf-8")
    (vendored / "elsewhere_copy.py").write_text(originals[5].read_text(encoding="utf-8"), encoding="utf-8")
    (vendored / "own.py").write_text("import os\nimport sys\n\n\ndef main():\n    print(os.getcwd(), sys.argv)\n"
                                     "    return 0\n\n\nif __name__ == '__main__':\n    main()\n", encoding="utf-8")
    labels_of_train = {f"train/{p.name}": split_of(f"train/{p.name}") for p in originals[:5]}
    stats = build_corpus(tmp_path / "out", [Source(train, "train"), Source(vendored, "vendored", holdout=True)],
                         vocab_size=300, min_count=1, cache_dir=tmp_path / "cache", jobs=1, progress=False,
                         reference=[reference])
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    test_labels = {f["path"] for f in manifest["files"] if f["split"] == "test"}
    assert "vendored/own.py" in test_labels
    assert "vendored/copied.py" not in test_labels and "vendored/elsewhere_copy.py" not in test_labels
    assert set(manifest["near_duplicates"]["test"]) >= {"vendored/copied.py", "vendored/elsewhere_copy.py"}
    assert stats.skipped["near_duplicate_test"] >= 2
    # Training files are never dropped, whatever they resemble.
    assert {f["path"] for f in manifest["files"] if f["split"] == "train"} == {k for k, v in labels_of_train.items() if v == "train"}
