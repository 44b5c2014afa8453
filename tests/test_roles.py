"""Roles of names in the token stream: the parsed ones (libcst, with repair of incomplete code) that
the look-ups read, the causal ones the model reads, and `heed tokens`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from heed.model.text.roles import ROLES
from heed.model.text.stream import tokenize

# (source, name, expected parsed role). `name#2` is the second token with that text.
CASES = [
    # expressions
    ("x.attr", "x", "name"),
    ("x.attr", "attr", "attribute"),
    ("f(a)", "f", "call"),
    ("f(a)", "a", "name"),
    ("obj.m()", "m", "method"),
    ("obj.m()", "obj", "name"),
    ("f(key=1)", "key", "keyword_arg"),
    ("d[k]", "d", "name"),
    ("d[k]", "k", "subscript"),
    ("x = y if c else z", "z", "name"),
    ("x = f'{a}' + b", "b", "name"),
    # definitions
    ("def f(p): pass", "f", "def_name"),
    ("def f(p): pass", "p", "parameter"),
    ("def g(*args, **kw): pass", "args", "parameter"),
    ("def g(*args, **kw): pass", "kw", "parameter"),
    ("def f(a: int = 1) -> Foo: pass", "int", "annotation"),
    ("def f() -> Foo: pass", "Foo", "annotation"),
    ("lambda q: q", "q", "parameter"),
    ("lambda q: q", "q#2", "name"),
    ("class C: pass", "C", "class_name"),
    ("class C(Base): pass", "Base", "name"),
    ("@dec\ndef f(): pass", "dec", "decorator"),
    ("@dec\ndef f(): pass", "f", "def_name"),
    ("@a.b(c)\nclass K: pass", "a", "decorator"),
    ("@a.b(c)\nclass K: pass", "K", "class_name"),
    # imports
    ("import os", "os", "import"),
    ("import os.path as p", "os", "import"),
    ("import os.path as p", "path", "import"),
    ("import os.path as p", "p", "import"),
    ("from a.b import c", "a", "import_from"),
    ("from a.b import c", "b", "import_from"),
    ("from a.b import c", "c", "import"),
    ("from a import b as c", "c", "import"),
    ("from . import z", "z", "import"),
    # bindings
    ("x = 1", "x", "target"),
    ("x += 1", "x", "target"),
    ("a, b = c", "a", "target"),
    ("a, b = c", "b", "target"),
    ("a, b = c", "c", "name"),
    ("for i in y: pass", "i", "target"),
    ("for i in y: pass", "y", "name"),
    ("with a as b: pass", "a", "name"),
    ("with a as b: pass", "b", "target"),
    ("try:\n    pass\nexcept E as e:\n    pass", "E", "name"),
    ("try:\n    pass\nexcept E as e:\n    pass", "e", "target"),
    ("[i for i in r]", "i#2", "target"),
    ("(n := 3)", "n", "target"),
    ("self.x = 1", "self", "name"),
    ("self.x = 1", "x", "attribute_target"),
    ("self.x += 1", "x", "attribute_target"),
    ("x: int", "x", "target"),
    ("x: int", "int", "annotation"),
    # not names
    ("y = None", "None", "syntax"),
    ("if True: pass", "True", "syntax"),
    # nested inside a class and a function (chunks below depth 0)
    ("class C:\n    def m(self, a):\n        return self.a.b(a)\n", "m", "def_name"),
    ("class C:\n    def m(self, a):\n        return self.a.b(a)\n", "b", "method"),
    ("class C:\n    def m(self, a):\n        return self.a.b(a)\n", "a#3", "name"),
    # incomplete code: what an editor holds before the cursor
    ("self.", "self", "name"),
    ("self.x.", "x", "attribute"),
    ("def f(a, ", "f", "def_name"),
    ("def f(a, ", "a", "parameter"),
    ("def f(p", "p", "parameter"),
    ("foo(bar.", "foo", "call"),
    ("foo(bar.", "bar", "name"),
    ("x = [1, 2", "x", "target"),
    ("s = '''abc", "s", "target"),
    ("if x:\n    y.", "x", "name"),
    ("if x:\n    y.", "y", "name"),
    ("if x.y", "y", "attribute"),
    ("class C(Base", "C", "class_name"),
    ("for i in ", "i", "target"),
    ("obj.m(k=v", "m", "method"),
    ("obj.m(k=v", "k", "keyword_arg"),
    ("x = foo(1, key=", "key", "keyword_arg"),
    ("for k, v in d.items(", "items", "method"),
    ("for k, v in d.items(", "v", "target"),
    ("def f(a):\n    return a[i", "i", "subscript"),
    ("import os.", "os", "import"),
    ("from a.b import (c, ", "b", "import_from"),
    ("from a.b import (c, ", "c", "import"),
    ("@dec\ndef f(", "dec", "decorator"),
    ("with open(p) as ", "open", "call"),
    ("class C:\n    def m(self, a", "self", "parameter"),
    ("x = lambda a, b: a.", "b", "parameter"),
    ("try:\n    pass\nexcept ValueError as e", "e", "target"),
    ("if x:\n    pass\nelif y.", "y", "name"),
]


def _find(tokens, spec: str):  # type: ignore[no-untyped-def]
    text, _, nth = spec.partition("#")
    matches = [t for t in tokens if t.text == text]
    index = int(nth) - 1 if nth else 0
    assert len(matches) > index, f"no token {spec!r} in {[t.text for t in tokens]}"
    return matches[index]


@pytest.mark.parametrize(("source", "name", "role"), CASES, ids=[f"{s!r}:{n}" for s, n, _ in CASES])
def test_parsed_role_of_name(source: str, name: str, role: str) -> None:
    assert role in ROLES
    tokens = tokenize(source)
    assert "".join(t.ws + t.text for t in tokens) == source
    assert all(t.parsed_role in ROLES for t in tokens)
    assert _find(tokens, name).parsed_role == role


def test_every_role_is_produced_by_some_case() -> None:
    """The table above exercises every role the model knows except `unknown`."""
    produced = {_find(tokenize(s), n).parsed_role for s, n, _ in CASES}
    assert produced == set(ROLES) - {"unknown"}


# (source, name, expected causal role): what the model reads, from the text up to the name only.
CAUSAL_CASES = [
    ("x.attr", "attr", "attribute"),
    ("f(a)", "f", "name"),  # a parse says `call`: that is the `(` after it
    ("obj.m()", "m", "attribute"),  # a parse says `method`
    ("f(key=1)", "key", "name"),  # a parse says `keyword_arg`
    ("x = 1", "x", "name"),  # a parse says `target`
    ("self.x = 1", "x", "attribute"),  # a parse says `attribute_target`
    ("d[k]", "k", "subscript"),
    ("d[k + 1]", "k", "subscript"),  # the first name in a subscript: what follows is unknown yet
    ("[k]", "k", "name"),  # a list, not a subscript
    ("def f(p, *a, q: int = d, **kw) -> R: return p", "p", "parameter"),
    ("def f(p, *a, q: int = d, **kw) -> R: return p", "a", "parameter"),
    ("def f(p, *a, q: int = d, **kw) -> R: return p", "q", "parameter"),
    ("def f(p, *a, q: int = d, **kw) -> R: return p", "int", "annotation"),
    ("def f(p, *a, q: int = d, **kw) -> R: return p", "d", "name"),
    ("def f(p, *a, q: int = d, **kw) -> R: return p", "kw", "parameter"),
    ("def f(p, *a, q: int = d, **kw) -> R: return p", "R", "annotation"),
    ("def f(p, *a, q: int = d, **kw) -> R: return p", "p#2", "name"),
    ("def f(a: Dict[str, int]): pass", "str", "annotation"),
    ("def f(k=lambda u, v: u): pass", "v", "parameter"),
    ("def f(k=lambda u, v: u): pass", "u#2", "name"),
    ("lambda q: q", "q", "parameter"),
    ("lambda q: q", "q#2", "name"),
    ("x: int = y", "int", "annotation"),
    ("x: int = y", "y", "name"),
    ("class C(Base): v: T", "C", "class_name"),
    ("class C(Base): v: T", "Base", "name"),
    ("class C(Base): v: T", "T", "annotation"),
    ("async def g(): pass", "g", "def_name"),
    ("@a.b(c)\nclass K: pass", "a", "decorator"),
    ("@a.b(c)\nclass K: pass", "b", "attribute"),
    ("@a.b(c)\nclass K: pass", "c", "decorator"),
    ("@a.b(c)\nclass K: pass", "K", "class_name"),
    ("import os.path as p", "p", "import"),
    ("from a.b import (c, d as e)", "b", "import_from"),
    ("from a.b import (c, d as e)", "e", "import"),
    ("for i, (j, k) in z: y = i", "k", "target"),
    ("for i, (j, k) in z: y = i", "z", "name"),
    ("for i, (j, k) in z: y = i", "i#2", "name"),
    ("[i for i in r if i]", "i#2", "target"),
    ("[i for i in r if i]", "r", "name"),
    ("with open(f) as h, g as k: pass", "h", "target"),
    ("with open(f) as h, g as k: pass", "k", "target"),
    ("if a: b = c; d: e", "e", "annotation"),
    ("match x:\n    case y: z", "z", "name"),
]


@pytest.mark.parametrize(("source", "name", "role"), CAUSAL_CASES, ids=[f"{s!r}:{n}" for s, n, _ in CAUSAL_CASES])
def test_causal_role_of_name(source: str, name: str, role: str) -> None:
    tokens = tokenize(source)
    assert _find(tokens, name).role == role
    # the same role in every text that ends with the name: nothing after it counts
    token = _find(tokens, name)
    cut = tokenize(source[: token.offset + len(token.text)])
    assert [t.role for t in cut if t.offset <= token.offset] == [t.role for t in tokens if t.offset <= token.offset]


def test_every_causal_role_is_produced_by_some_case() -> None:
    """The model's roles are the parsed ones less those only what follows a name can tell."""
    produced = {_find(tokenize(s), n).role for s, n, _ in CAUSAL_CASES}
    assert produced == set(ROLES) - {"unknown", "syntax", "call", "method", "keyword_arg", "attribute_target"}


@pytest.mark.parametrize(
    "source",
    ["", "\n", "(", ")", "'''", "def", "class C(", "@", "x = (", "if x:\n", "if x:\n    ", "\\", "lambda", "f(**", "a.b.c.",
     "match x:\n    case ", "x = [\n1,\n", "try:\n    x = 1\n", "else:", "return", "\x00", "\U0001F600 = 1"],
)
def test_incomplete_code_never_raises(source: str) -> None:
    tokens = tokenize(source)
    assert "".join(t.ws + t.text for t in tokens) == source
    assert tokens and tokens[-1].kind == "endmarker"
    # keywords, operators and layout are "syntax"; only names carry other roles
    assert all(t.role == t.parsed_role == "syntax" for t in tokens if t.kind != "name")


# -- `heed tokens FILE --json` ------------------------------------------------------------------

COMPLETE = "import os\n\n\nclass C(Base):\n    def m(self, a: int) -> str:\n        return os.path.join(self.x, a)  # é\n"
INCOMPLETE = "def f(a, b):\n    x = a.b(\n        c,\r\n\tk=\"unterminated\n    s = '''\U0001F600 open"


def _heed_tokens(arg: str, stdin: bytes | None = None) -> list[dict]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, "-m", "heed", "tokens", arg, "--json"], input=stdin,
                          capture_output=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    data = json.loads(proc.stdout.decode("utf-8"))
    assert isinstance(data, list) and data
    return data


@pytest.mark.parametrize(("source", "via"), [(COMPLETE, "file"), (INCOMPLETE, "file"), (INCOMPLETE, "stdin")])
def test_heed_tokens_json(tmp_path: Path, source: str, via: str) -> None:
    if via == "file":
        path = tmp_path / "code.py"
        path.write_bytes(source.encode("utf-8"))
        data = _heed_tokens(str(path))
    else:
        data = _heed_tokens("-", stdin=source.encode("utf-8"))
    for obj in data:
        assert set(obj) == {"text", "ws", "kind", "role", "parsed_role", "line", "col"}
        assert obj["role"] in ROLES and obj["parsed_role"] in ROLES
    assert "".join(o["ws"] + o["text"] for o in data) == source
    assert data == [t.to_json() for t in tokenize(source)]
    if source == COMPLETE:
        parsed = {o["text"]: o["parsed_role"] for o in data if o["kind"] == "name"}
        assert parsed["C"] == "class_name" and parsed["m"] == "def_name" and parsed["join"] == "method"
        roles = {o["text"]: o["role"] for o in data if o["kind"] == "name"}
        assert roles["C"] == "class_name" and roles["m"] == "def_name" and roles["join"] == "attribute"
