"""The files that run on the instance, as they are shipped inside a bundle.

They live as real, commented files in ``notebook_lifecycle/on_instance``; every
character of them counts against the 16,384-character budget of every bundle,
so they travel minified: comment lines, docstrings and indentation removed.
Users' files are never touched.
"""

from __future__ import annotations

import ast
import io
import tokenize
from functools import lru_cache
from importlib import resources

__all__ = ["on_instance_text", "minify_shell", "minify_python", "shipped_file"]


def on_instance_text(name: str) -> str:
    """The source of a file in ``notebook_lifecycle/on_instance`` (``"run.sh"``, ``"features/autostop.py"``)."""
    return (resources.files("notebook_lifecycle") / "on_instance" / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def shipped_file(name: str) -> bytes:
    """``name`` as it goes into a bundle: ``*.sh`` and ``*.py`` minified, anything else as is (cached)."""
    text = on_instance_text(name)
    if name.endswith(".sh"):
        text = minify_shell(text)
    elif name.endswith(".py"):
        text = minify_python(text)
    return text.encode()


def minify_shell(text: str) -> str:
    """Drop comment lines, blank lines and indentation from one of *our* shell files.

    Only for files written for it (no heredocs, no multi-line strings): the
    runner and the feature scripts. Users' scripts are never touched.
    """
    out = []
    for i, line in enumerate(text.splitlines()):
        stripped = line.strip()
        if i == 0 and stripped.startswith("#!"):
            out.append(stripped)
            continue
        if not stripped or stripped.startswith("#"):
            continue
        out.append(stripped)
    return "\n".join(out) + "\n"


def minify_python(text: str) -> str:
    """Drop comments, docstrings and blank lines of one of *our* Python files; indent by one space a level.

    Other string literals (multi-line ones included) are kept as they are. The
    result is checked by compiling it. Only for files written with 4-space
    indentation, such as ``on_instance/features/autostop.py``.
    """
    tree = ast.parse(text)
    doc_rows: set = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and len(body) > 1:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                doc_rows.update(range(first.lineno, first.end_lineno + 1))
    lines = [list(line) for line in text.splitlines()]
    verbatim: set = set()  # continuation rows of kept multi-line strings
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            lines[row - 1][col:] = []
        elif tok.type == tokenize.STRING and tok.start[0] != tok.end[0] and tok.start[0] not in doc_rows:
            verbatim.update(range(tok.start[0] + 1, tok.end[0] + 1))
    out = []
    for row, chars in enumerate(lines, 1):
        line = "".join(chars)
        if row in verbatim:
            out.append(line)
        elif row not in doc_rows and line.strip():
            body = line.rstrip()
            indent = len(body) - len(body.lstrip(" "))
            out.append(" " * (indent // 4) + body.lstrip(" "))
    result = "\n".join(out) + "\n"
    compile(result, "<minified>", "exec")
    return result
