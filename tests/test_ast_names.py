"""The roles read off Python's `ast` equal those libcst's visitor gives (`role_parser.py`)."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest

from heed.model.text import role_parser
from heed.model.text.ast_names import ast_names
from heed.model.text.lexer import chunks
from heed.model.text.roles import ROLES


def libcst_roles(tokens):
    """chunk_roles as it was before ast: libcst alone."""
    roles = [role_parser.SYNTAX] * len(tokens)
    slots = [i for i, t in enumerate(tokens) if t.kind == role_parser.NAME or t.text in role_parser.NAME_LIKE_KEYWORDS]
    for i in slots:
        if tokens[i].kind == role_parser.NAME:
            roles[i] = role_parser.UNKNOWN
    if slots and not role_parser._too_hard_to_parse(tokens):
        names = role_parser._names(tokens, role_parser._libcst_names)
        if names is not None:
            role_parser._align(tokens, slots, names, roles)
    return roles


def differences(text: str) -> list[tuple[str, str, str]]:
    found = []
    for chunk in chunks(text):
        fast, slow = role_parser.chunk_roles(chunk.tokens), libcst_roles(chunk.tokens)
        found += [(t.text, ROLES[a], ROLES[b]) for t, a, b in zip(chunk.tokens, fast, slow) if a != b]
    return found


CASES = [
    "x = y = f(a, b=c)\nself.x, (d, *e) = g.h(i)[j]\n",
    "for k, v in d.items():\n    t[k] += v\n",
    "@app.route('/x', methods=m)\n@property\nasync def f(a: int, /, b: List[str] = None, *c, d=1, **e) -> Dict[str, T]:\n    return [x for x in y if (z := x)]\n",
    "class C(B, metaclass=M):\n    a: int = 3\n    self.b: str\n",
    "import a.b.c as d, e\nfrom .f.g import (h as i, j)\nfrom . import k\nfrom m import *\n",
    "try:\n    pass\nexcept (A, B) as exc:\n    raise C from exc\n",
    "with open(p) as fh, lock as (a, b.c):\n    global g, h\n    del x[y], z\n",
    "x[a, b:c, *d]; y[(a, b)]; z[()]; w[True]; v[a,]\n",
    "f'{x} {y!r:>{w}}' + g(f'{z}')\nlambda p, q=r: p.s(q)\n",
    "match p:\n    case Point(x=0, y=yy) | [a, *rest] | {'k': v, **kw}:\n        pass\n",
    "if x:\n    def f(\n",  # cut in the middle: repaired
    "obj . attr ( ) . méthode . été\n",  # spaces, and names beyond ASCII (ast's columns are bytes)
    "x = (yield)\nawait z\nprint(*a, **b)\nnot_a_keyword = True if None else False\n",
]


@pytest.mark.parametrize("text", CASES)
def test_same_roles_as_libcst(text):
    assert differences(text) == []


def test_same_roles_on_the_standard_library():
    """Hundreds of real files, whole and cut at a random point (the text before a cursor)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py") if p.stat().st_size < 60_000)
    rng = random.Random(0)
    checked = 0
    for path in rng.sample(files, 40):
        text = path.read_text(encoding="utf-8", errors="replace")
        for part in (text, text[: rng.randint(0, len(text))]):
            assert differences(part) == [], path
            checked += 1
    assert checked == 80


def test_gives_up_where_it_cannot_place_names():
    assert ast_names("match p:\n    case x:\n        pass\n") is None  # libcst reads match statements
    assert ast_names("def f(:\n") is None
    assert ast_names("a.b(c=d)") == [("a", ROLES.index("name")), ("b", ROLES.index("method")), ("c", ROLES.index("keyword_arg")),
                                     ("d", ROLES.index("name"))]
