"""Folders of .py files -> a tokenized corpus on disk, ready for training and evaluation.

    heed corpus build --out runs/corpus                      # the standard library
    heed corpus build --out runs/mine --add ~/src/myproject  # plus a project of one's own

Steps: find files -> tokenize them on all cores (each file cached by content hash, so a second
run is near-instant) -> split train/valid/test by a hash of the file's path -> build the
vocabulary on the training split -> write one array file per split.

On disk (no pickles anywhere):
    manifest.json     files, their split and token counts, what was skipped and why
    vocab.json        the vocabulary, with the tokenizer's version
    {split}.npz       ids, roles, kinds, ext (pointer identity) and file starts, as int arrays
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import stat
import sysconfig
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from heed.model.text.stream import TokenStream
from heed.model.text.vocab import KIND_CODES, KIND_ID, TOKENIZER_VERSION, Vocab, token_key
from heed.model.training.dedupe import file_fingerprint, near_duplicates
from heed.model.training.held_out import EVAL_PACKAGES
from heed.model.workspace.cache import user_cache_dir

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
MAX_FILE_BYTES = 1_000_000
TEST_DIRS = frozenset({"test", "tests", "testing", "idle_test", "unittests"})
SKIP_DIRS = frozenset({"__pycache__", "site-packages", "dist-packages", ".git", "node_modules", ".venv"})


def default_cache_dir() -> Path:
    return user_cache_dir() / "tokens"


@dataclass(frozen=True)
class Source:
    """A folder of code. `holdout` sources go to the test split whole."""

    root: Path
    label: str
    holdout: bool = False


@dataclass
class SourceFile:
    path: Path
    label: str  # stable name, used for the split: "<source label>/<relative path>"
    holdout: bool


@dataclass
class FileTokens:
    keys: list[str]
    kinds: list[int]
    roles: list[int]  # what the model reads (`text/causal_roles.py`)
    parsed: list[int]  # libcst's roles, which the look-ups read


@dataclass
class BuildStats:
    files: int = 0
    parsed: int = 0
    cached: int = 0
    corrupt_rebuilt: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    tokens: dict[str, int] = field(default_factory=dict)


def stdlib_source() -> Source:
    return Source(Path(sysconfig.get_paths()["stdlib"]), "stdlib")


def installed_package_source(name: str, holdout: bool = False) -> Source | None:
    """The folder of an installed package, found without importing it."""
    for base in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        path = Path(base) / name
        if path.is_dir():
            return Source(path, name, holdout)
    return None


def eval_package_sources() -> list[Source]:
    """The installed evaluation packages, each held out whole (its files all go to the test split)."""
    return [s for name in EVAL_PACKAGES if (s := installed_package_source(name, holdout=True))]


def default_eval_sources() -> list[Source]:
    """The standard library (its test split is used) and the evaluation packages, held out whole."""
    return [stdlib_source(), *eval_package_sources()]


def find_files(sources: Iterable[Source], exclude: Iterable[str] = (), skip_tests: bool = False) -> list[SourceFile]:
    """All .py files under the sources, minus excluded folder or package names."""
    excluded = set(exclude)
    found = []
    for source in sources:
        for dirpath, dirnames, filenames in os.walk(source.root):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in SKIP_DIRS
                and d not in excluded
                and not d.endswith(".dist-info")
                and not (skip_tests and (d in TEST_DIRS or d.startswith("test_")))
            )
            for name in sorted(filenames):
                if not name.endswith(".py") or (skip_tests and (name.startswith("test_") or name == "conftest.py")):
                    continue
                if name[:-3] in excluded:
                    continue
                path = Path(dirpath) / name
                rel = path.relative_to(source.root).as_posix()
                found.append(SourceFile(path, f"{source.label}/{rel}", source.holdout))
    return found


def split_of(label: str) -> str:
    """Deterministic split by a hash of the file's label: 90% train, 5% valid, 5% test."""
    bucket = int(hashlib.sha1(label.encode()).hexdigest()[:8], 16) % 100
    return "train" if bucket < 90 else "valid" if bucket < 95 else "test"


# -- tokenizing one file, with its cache entry ---------------------------------------------


def tokenize_source(text: str) -> FileTokens:
    stream = TokenStream(text)
    keys, kinds, roles, parsed = [], [], [], []
    for piece in stream.pieces:
        keys += [token_key(tok.kind, tok.text) for tok in piece.tokens]
        kinds += [KIND_ID[tok.kind] for tok in piece.tokens]
        roles += piece.roles
        parsed += piece.parsed_roles
    return FileTokens(keys, kinds, roles, parsed)


def _checksum(payload: list[object]) -> str:
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def _cache_path(cache_dir: Path, sha: str) -> Path:
    return cache_dir / TOKENIZER_VERSION / sha[:2] / f"{sha}.json"


def _read_cache(path: Path) -> FileTokens | None | str:
    """The cached tokens, None when absent, or "corrupt"."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        return "corrupt"
    try:
        data = json.loads(raw)
        payload = [data["keys"], data["kinds"], data["roles"], data["parsed"]]
        if data["check"] != _checksum(payload) or len({len(p) for p in payload}) != 1:
            return "corrupt"
        return FileTokens(*payload)
    except (ValueError, KeyError, TypeError):
        return "corrupt"


def _write_cache(path: Path, tokens: FileTokens) -> None:
    payload = [tokens.keys, tokens.kinds, tokens.roles, tokens.parsed]
    data = {"version": TOKENIZER_VERSION, "keys": tokens.keys, "kinds": tokens.kinds, "roles": tokens.roles,
            "parsed": tokens.parsed}
    data["check"] = _checksum(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    try:
        os.replace(tmp, path)  # atomic: a crash never leaves a half-written entry under the real name
    finally:
        tmp.unlink(missing_ok=True)  # left only when the rename failed (the entry is a directory)


def tokenize_file(path: Path, cache_dir: Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[str, str, FileTokens | None]:
    """(status, sha, tokens) for one file. Status: parsed, cached, corrupt_rebuilt or a skip reason."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return "not_a_file", "", None  # a FIFO named x.py: reading it waited forever
        if info.st_size > max_bytes:
            return "too_large", "", None
        raw = path.read_bytes()
    except OSError:  # a dangling symlink, a symlink loop, no permission, gone since listed
        return "unreadable", "", None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not_utf8", "", None
    sha = hashlib.sha256(raw).hexdigest()
    entry = _cache_path(cache_dir, sha)
    cached = _read_cache(entry)
    if isinstance(cached, FileTokens):
        return "cached", sha, cached
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "syntax_error", sha, None
    tokens = tokenize_source(text)
    try:
        _write_cache(entry, tokens)
    except OSError as exc:  # the cache only saves time: a cache that cannot be written must not stop the build
        log.warning("could not write the token cache entry %s: %s", entry, exc)
    return ("corrupt_rebuilt" if cached == "corrupt" else "parsed"), sha, tokens


def _tokenize_job(args: tuple[Path, Path, int]) -> tuple[str, str, FileTokens | None]:
    return tokenize_file(*args)


def tokenize_files(
    files: list[SourceFile], cache_dir: Path, jobs: int | None = None, progress: bool = True
) -> Iterator[tuple[SourceFile, str, str, FileTokens | None]]:
    """Tokenize files on `jobs` processes (all cores by default), in order."""
    jobs = jobs or os.cpu_count() or 1
    args = [(f.path, cache_dir, MAX_FILE_BYTES) for f in files]
    bar = tqdm(total=len(files), desc="tokenizing", unit="file", disable=not progress, leave=False)
    try:
        if jobs == 1:
            results: Iterable[tuple[str, str, FileTokens | None]] = map(_tokenize_job, args)
        else:
            pool = ProcessPoolExecutor(jobs)
            results = pool.map(_tokenize_job, args, chunksize=8)
        for file, (status, sha, tokens) in zip(files, results):
            bar.update()
            yield file, status, sha, tokens
    finally:
        bar.close()
        if jobs != 1:
            pool.shutdown(cancel_futures=True)


# -- encoding and writing the corpus --------------------------------------------------------


def encode_file(tokens: FileTokens, vocab: Vocab) -> dict[str, np.ndarray]:
    """Arrays for one file. `ext` identifies a token's text for the pointer: its vocabulary id,
    or, for a name outside the vocabulary, len(vocab) + its rank among such names in the file;
    -1 for placeholders, which stand for no one text and are never copied."""
    ids = np.empty(len(tokens.keys), dtype=np.int32)
    ext = np.empty(len(tokens.keys), dtype=np.int32)
    oov: dict[str, int] = {}
    name_kind = KIND_ID["name"]
    size = len(vocab)
    answerable = vocab.answerable()
    for i, (key, kind) in enumerate(zip(tokens.keys, tokens.kinds)):
        vid = vocab.index.get(key)
        if vid is None:
            vid = vocab.encode(KIND_CODES[kind], key)
            ext[i] = size + oov.setdefault(key, len(oov)) if kind == name_kind else -1
        else:
            ext[i] = vid if answerable[vid] else -1
        ids[i] = vid
    return {
        "ids": ids,
        "ext": ext,
        "roles": np.asarray(tokens.roles, dtype=np.int8),
        "parsed": np.asarray(tokens.parsed, dtype=np.int8),
        "kinds": np.asarray(tokens.kinds, dtype=np.int8),
    }


# The arrays of a split, one entry per token of its files.
ARRAYS = (("ids", np.int32), ("ext", np.int32), ("roles", np.int8), ("parsed", np.int8), ("kinds", np.int8))


def write_split(path: Path, encoded: list[dict[str, np.ndarray]]) -> int:
    starts = np.zeros(len(encoded) + 1, dtype=np.int64)
    for i, file_arrays in enumerate(encoded):
        starts[i + 1] = starts[i] + len(file_arrays["ids"])
    joined = {
        name: np.concatenate([a[name] for a in encoded]) if encoded else np.zeros(0, dtype=dtype)
        for name, dtype in ARRAYS
    }
    np.savez(path, starts=starts, ids=joined["ids"], ext=joined["ext"], roles=joined["roles"], parsed=joined["parsed"],
             kinds=joined["kinds"])
    return int(starts[-1])


def build_corpus(
    out: Path,
    sources: list[Source],
    exclude: Iterable[str] = (),
    skip_tests: bool = False,
    vocab: Vocab | None = None,
    vocab_size: int = 10000,
    min_count: int = 3,
    cache_dir: Path | None = None,
    jobs: int | None = None,
    progress: bool = True,
    splits: tuple[str, ...] = SPLITS,
    reference: Iterable[Path] = (),
) -> BuildStats:
    """Tokenize `sources` into the corpus folder `out`; see the module docstring.

    `splits` limits the work to files of those splits (evaluation needs only "test"); the
    vocabulary must then be given. A validation or test file that nearly duplicates a file of an
    earlier split, or a file under the `reference` folders (training data built elsewhere), is
    dropped and counted (`dedupe.py`).
    """
    cache_dir = cache_dir or default_cache_dir()
    files = [f for f in find_files(sources, exclude, skip_tests) if ("test" if f.holdout else split_of(f.label)) in splits]
    stats = BuildStats(files=len(files))
    kept: dict[str, list[tuple[SourceFile, str, FileTokens]]] = {s: [] for s in SPLITS}
    for file, status, sha, tokens in tokenize_files(files, cache_dir, jobs, progress):
        if tokens is None:
            stats.skipped[status] += 1
            continue
        setattr(stats, status, getattr(stats, status) + 1)
        split = "test" if file.holdout else split_of(file.label)
        kept[split].append((file, sha, tokens))
    dropped = drop_near_duplicates(kept, reference)
    for split, labels in dropped.items():
        if labels:
            stats.skipped[f"near_duplicate_{split}"] += len(labels)
    if vocab is None:
        vocab = Vocab.build(Counter(k for _, _, t in kept["train"] for k in t.keys), vocab_size, min_count)
    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.json")
    manifest_files = []
    for split in SPLITS:
        encoded = [encode_file(tokens, vocab) for _, _, tokens in kept[split]]
        stats.tokens[split] = write_split(out / f"{split}.npz", encoded)
        manifest_files += [
            {"path": f.label, "sha": sha, "split": split, "tokens": len(t.keys)} for f, sha, t in kept[split]
        ]
    manifest = {
        "tokenizer_version": TOKENIZER_VERSION,
        "sources": [{"root": str(s.root), "label": s.label, "holdout": s.holdout} for s in sources],
        "exclude": sorted(exclude),
        "skip_tests": skip_tests,
        "files": manifest_files,
        "skipped": dict(stats.skipped),
        "near_duplicates": dropped,  # split -> labels of the files dropped as copies of others
        "tokens": stats.tokens,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return stats


def drop_near_duplicates(kept: dict[str, list[tuple[SourceFile, str, FileTokens]]], reference: Iterable[Path]
                         ) -> dict[str, list[str]]:
    """Remove from `kept` the validation and test files that nearly duplicate a file of an earlier
    split (train, then valid) or of the `reference` folders; their labels, by split."""
    fingerprints = {split: [file_fingerprint(f.path) for f, _, _ in kept[split]] for split in SPLITS}
    own = {f.path.resolve() for files in kept.values() for f, _, _ in files}
    earlier = [file_fingerprint(f.path) for f in find_files([Source(Path(r), "reference") for r in reference])
               if f.path.resolve() not in own]  # a source inside a reference folder is not its own copy
    dropped: dict[str, list[str]] = {}
    for split in SPLITS:
        if split != "train":
            gone = near_duplicates(fingerprints[split], earlier)
            dropped[split] = [kept[split][i][0].label for i in sorted(gone)]
            kept[split] = [item for i, item in enumerate(kept[split]) if i not in gone]
            fingerprints[split] = [fp for i, fp in enumerate(fingerprints[split]) if i not in gone]
        earlier += fingerprints[split]
    return dropped


@dataclass
class Split:
    """One split of a corpus in memory: flat arrays and where each file starts."""

    ids: np.ndarray
    ext: np.ndarray
    roles: np.ndarray
    parsed: np.ndarray
    kinds: np.ndarray
    starts: np.ndarray
    labels: list[str]
    paths: list[str] = field(default_factory=list)  # each file's source, where the corpus was built

    def file(self, i: int) -> dict[str, np.ndarray]:
        a, b = int(self.starts[i]), int(self.starts[i + 1])
        return {name: getattr(self, name)[a:b] for name, _ in ARRAYS}

    def __len__(self) -> int:
        return len(self.starts) - 1


def load_split(corpus: Path, split: str) -> Split:
    with np.load(corpus / f"{split}.npz", allow_pickle=False) as data:
        arrays = {name: data[name] for name in ("starts", *(n for n, _ in ARRAYS))}
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    labels = [f["path"] for f in manifest["files"] if f["split"] == split]
    roots = {s["label"]: Path(s["root"]) for s in manifest.get("sources", [])}
    paths = [str(roots[head] / rest) if head in roots else "" for head, _, rest in (label.partition("/") for label in labels)]
    return Split(labels=labels, paths=paths, **arrays)


def corpus_vocab(corpus: Path) -> Vocab:
    return Vocab.load(corpus / "vocab.json")


def is_corpus(path: Path) -> bool:
    return all((path / name).exists() for name in ("manifest.json", "vocab.json", "train.npz"))
