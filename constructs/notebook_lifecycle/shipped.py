"""The files that run on the instance, as they are shipped inside a bundle.

They live as real, commented files in ``notebook_lifecycle/on_instance``; every
character of them counts against the 16,384-character budget of every bundle,
so they travel minified: comment lines, docstrings and indentation removed.
Users' files are never touched.
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import re
import string
import tokenize
from functools import lru_cache
from importlib import resources
from typing import Iterable

__all__ = ["on_instance_text", "minify_shell", "minify_python", "python_names", "shipped_file", "shell_blocks"]


def on_instance_text(name: str) -> str:
    """The source of a file in ``notebook_lifecycle/on_instance`` (``"run.sh"``, ``"features/autostop.py"``)."""
    return (resources.files("notebook_lifecycle") / "on_instance" / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def shipped_file(name: str, without: tuple[str, ...] = ()) -> bytes:
    """``name`` as it goes into a bundle: ``*.sh`` and ``*.py`` minified, anything else as is (cached).

    ``without``: names of the optional blocks of a shell file to leave out (see :func:`shell_blocks`).
    """
    text = on_instance_text(name)
    if name.endswith(".sh"):
        text = minify_shell(shell_blocks(text, without))
    elif name.endswith(".py"):
        text = minify_python(text)
    return text.encode()


_BLOCK_RE = re.compile(r"^[ \t]*#([{}])([a-z]+)\b.*$")


def shell_blocks(text: str, without: Iterable[str] = ()) -> str:
    """``text`` without the lines of each block named in ``without``.

    A block is the lines between a comment line ``#{NAME`` and the next ``#}NAME`` (the marker
    lines are comments: the minifier drops them anyway). A block left open, a closing line
    without its opening, or a name in ``without`` that the file does not have is an error.
    """
    drop, out, open_at, seen = set(without), [], {}, set()
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        m = _BLOCK_RE.match(line)
        if m:
            kind, name = m.groups()
            if kind == "{":
                if name in open_at:
                    raise ValueError(f"line {number}: block {name!r} opened twice")
                open_at[name] = number
                seen.add(name)
            elif open_at.pop(name, None) is None:
                raise ValueError(f"line {number}: block {name!r} closed but not open")
            continue
        if not drop & set(open_at):
            out.append(line)
    if open_at:
        raise ValueError(f"blocks left open: {sorted(open_at)}")
    if drop - seen:
        raise ValueError(f"no such block: {sorted(drop - seen)}")
    return "".join(out)


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


def minify_python(text: str, rename: bool = True) -> str:
    """Shrink one of *our* Python files; the result is checked by compiling it.

    * comments, docstrings and blank lines go (a docstring that is a block's only statement stays);
    * each logical line becomes one physical line, indented by one space a level, with a space
      between two tokens only where Python needs one (``a,b=f(x,y)``);
    * consecutive simple statements of a block are joined with ``;`` (consecutive ``import``
      statements become one: ``import os,re``), and a block of one line goes on its header's line
      (``if not m:return None``);
    * with ``rename``, the top-level functions and module-level variables (see
      :func:`_module_renames`; :func:`python_names` says which), then the local variables and
      parameters of each top-level function (see :func:`_renames`), get the shortest names unused
      in the file. Classes, imports, attributes, keyword parameters and everything inside f-strings
      keep theirs.

    String literals (multi-line ones included) are kept as written. Users' files are never touched.
    """
    tree = ast.parse(text)
    doc_rows: set = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None) or []
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and len(body) > 1:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                doc_rows.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    renames = _renames(tree, text) if rename else {}
    src = text.splitlines(keepends=True)

    def source(start: tuple, end: tuple) -> str:
        (r1, c1), (r2, c2) = start, end
        if r1 == r2:
            return src[r1 - 1][c1:c2]
        return src[r1 - 1][c1:] + "".join(src[r1:r2 - 1]) + src[r2 - 1][:c2]

    lines: list = []  # [level, text, kind, plain import?]: kind "simple", "header" (ends with ':') or "closed"
    level, words, kinds = 0, [], []  # type: int, list[str], list[str]  # words: token texts of the current logical line; kinds: their types
    fstring = None  # (start, depth) while inside an f-string that tokenize splits up (Python 3.12+)
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        kind = tokenize.tok_name[tok.type]
        if fstring is not None:
            depth = fstring[1] + (kind == "FSTRING_START") - (kind == "FSTRING_END")
            fstring = (fstring[0], depth)
            if depth == 0:
                words.append(source(fstring[0], tok.end))
                kinds.append("STRING")
                fstring = None
            continue
        if kind == "FSTRING_START":
            fstring = (tok.start, 1)
            continue
        if kind == "INDENT":
            level += 1
        elif kind == "DEDENT":
            level -= 1
        elif kind == "NEWLINE":
            if words and tok.start[0] not in doc_rows:
                lines.append([level, _join_tokens(words, kinds), _line_kind(words), words[0] == "import" and ";" not in words])
            words, kinds = [], []
        elif kind not in ("COMMENT", "NL", "ENDMARKER", "ENCODING"):
            words.append(renames.get(tok.start, tok.string) if kind == "NAME" else tok.string)
            kinds.append(kind)
    # consecutive simple statements of one block: one line; consecutive imports: one statement
    joined: list = []
    for line in lines:
        prev = joined[-1] if joined else None
        if prev and prev[2] == line[2] == "simple" and prev[0] == line[0]:
            prev[1] += "," + line[1][len("import "):] if prev[3] and line[3] else ";" + line[1]
            prev[3] = line[3]
        else:
            joined.append(list(line))
    # a header whose block is one (simple) line: together
    out: list = []
    i = 0
    while i < len(joined):
        level, body, kind, _ = joined[i]
        nxt = joined[i + 1] if i + 1 < len(joined) else None
        after = joined[i + 2] if i + 2 < len(joined) else None
        if kind == "header" and nxt and nxt[2] == "simple" and nxt[0] == level + 1 and (after is None or after[0] <= level):
            out.append(" " * level + body + nxt[1])
            i += 2
            continue
        out.append(" " * level + body)
        i += 1
    result = "\n".join(out) + "\n"
    compile(result, "<minified>", "exec")
    return result


_COMPOUND = frozenset({"if", "elif", "else", "for", "while", "try", "except", "finally", "with", "def", "class",
                       "async", "@"})


def _line_kind(words: list) -> str:
    if words[-1] == ":":
        return "header"
    return "closed" if words[0] in _COMPOUND else "simple"


def _join_tokens(words: list, kinds: list) -> str:
    """Token texts with a space only where two would fuse (``return x``, ``1 if``, ``in b''``)."""
    out = words[0]
    for prev_kind, word in zip(kinds[:-1], words[1:], strict=True):
        if word == "}" and out[-1] == ",":
            out = out[:-1]
        elif (out[-1].isalnum() or out[-1] == "_") and (word[0].isalnum() or word[0] == "_") \
                or prev_kind == "NUMBER" and word[0] == ".":
            out += " "
        out += word
    return out


def python_names(text: str) -> dict:
    """``{old: new}`` for the module-level names that :func:`minify_python` renames in ``text``.

    For tests and tools that reach into a shipped module (``getattr(module, names["parse_time"])``).
    """
    tree = ast.parse(text)
    return _module_renames(tree, _taken(text))


def _taken(text: str) -> set:
    """Names a new name must not be: keywords, builtins and every NAME in the file (attributes too)."""
    return set(keyword.kwlist) | set(dir(builtins)) | {
        t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.NAME}


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)


def _module_renames(tree: ast.Module, taken: set) -> dict:
    """``{old: new}`` for the top-level functions and module-level variables that are safe to rename.

    A name qualifies when it is defined by a top-level ``def`` or assigned by a statement at module
    level, and is bound nowhere else: not a parameter, not assigned inside a function, class, lambda
    or comprehension, not imported, not an ``except ... as`` name, not declared global/nonlocal (those
    statements carry no positions), not read inside an f-string (kept verbatim), not a dunder and not
    listed in ``__all__``. Classes keep their names. Every use in the file (a read in a function, a
    default value) is a ``Name`` node and is renamed alike; attributes (``module.name``) and keyword
    arguments are other namespaces and are never touched. Our files never look a name up by string
    (``globals()``, ``getattr(module, "...")``). New names: the shortest unused in the file, the most
    used first.
    """
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    top: list = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    while top:  # module-level statements, not descending into new scopes
        node = top.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif not isinstance(node, _SCOPES):
            top.extend(ast.iter_child_nodes(node))
    elsewhere: set = set()
    for scope in ast.walk(tree):
        if isinstance(scope, _SCOPES):
            elsewhere.update(n.id for n in ast.walk(scope) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                             and n is not scope)
    for n in ast.walk(tree):
        elsewhere.update(_names_bound_or_read_as_text(n))
        if isinstance(n, ast.arg):
            elsewhere.add(n.arg)
        elif isinstance(n, ast.Assign) and any(isinstance(x, ast.Name) and x.id == "__all__" for x in n.targets):
            elsewhere.update(c.value for c in ast.walk(n.value) if isinstance(c, ast.Constant))
    names = {n for n in defined - elsewhere if not n.startswith("__")}
    uses: dict = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and n.id in names:
            uses[n.id] = uses.get(n.id, 0) + 1
    fresh = (s for s in _short_names() if s not in taken)
    new = {old: next(fresh) for old in sorted(names, key=lambda n: (-uses.get(n, 0), n))}
    return {old: short for old, short in new.items() if len(short) < len(old)}


def _renames(tree: ast.Module, text: str) -> dict:
    """``{(row, col): new name}`` for the NAME tokens to rename: module-level names
    (:func:`_module_renames`), then function-local names per top-level function.

    A local name is renamed only where that is certainly safe: it is a parameter or assigned in the
    function (or in a lambda or comprehension inside it), it is not a module-level name, a builtin,
    declared global/nonlocal, imported, an ``except ... as`` name, used inside an f-string, or a
    parameter name that some call in the file passes by keyword. Functions with a nested def or
    class are left alone. Every use inside the function is renamed alike, so shadowing in a lambda or
    comprehension stays consistent. New names are the shortest ones that appear nowhere in the file
    (not even as attributes) and are no module-level name's new name, the most used local first.
    """
    taken = _taken(text)
    module = _module_renames(tree, taken)
    taken |= set(module.values())
    module_names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & _module_bound(tree)
    by_keyword = {k.arg for k in ast.walk(tree) if isinstance(k, ast.keyword) and k.arg}
    rows = text.splitlines()

    def col(node) -> int:  # ast counts UTF-8 bytes, tokenize counts characters
        return len(rows[node.lineno - 1].encode()[: node.col_offset].decode())

    renames: dict = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and n.id in module:
            renames[(n.lineno, col(n))] = module[n.id]
    # a def's name: the NAME token after the `def` keyword on its line
    def_rows = {fn.lineno: fn.name for fn in tree.body if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))}
    after_def = False
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if after_def and tok.string in module and def_rows.get(tok.start[0]) == tok.string:
            renames[tok.start] = module[tok.string]
        after_def = tok.type == tokenize.NAME and tok.string == "def"
    for fn in tree.body:
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        inner = [n for n in ast.walk(fn) if n is not fn]
        if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in inner):
            continue
        keep = set(module_names) | set(dir(builtins))
        for n in inner:
            keep.update(_names_bound_or_read_as_text(n))
        args = [a for n in [fn] + inner if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                for a in _arguments(n.args)]
        names = [n for n in inner if isinstance(n, ast.Name)]
        keep.update(a.arg for a in args if a.arg in by_keyword)
        bound = {a.arg for a in args} | {n.id for n in names if isinstance(n.ctx, ast.Store)}
        uses: dict = {}
        for name in [a.arg for a in args] + [n.id for n in names]:
            if name in bound and name not in keep:
                uses[name] = uses.get(name, 0) + 1
        fresh = (s for s in _short_names() if s not in taken)
        new = {old: next(fresh) for old in sorted(uses, key=lambda n: (-uses[n], n))}
        new = {old: short for old, short in new.items() if len(short) < len(old)}
        for a in args:
            if a.arg in new:
                renames[(a.lineno, col(a))] = new[a.arg]
        for n in names:
            if n.id in new:
                renames[(n.lineno, col(n))] = new[n.id]
    return renames


def _arguments(a: ast.arguments) -> list:
    return a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]


def _module_bound(tree: ast.Module) -> set:
    """Names bound at module level (assigned, defined, imported), which functions may read as globals."""
    out = set()
    for node in tree.body:
        for n in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else [node]:
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(n.name)
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                out.add(n.id)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                out.update((a.asname or a.name).split(".")[0] for a in n.names)
    return out


def _short_names():
    letters = string.ascii_letters
    yield from letters
    for a in letters:
        for b in letters + string.digits + "_":
            yield a + b


def _names_bound_or_read_as_text(n: ast.AST) -> list:
    """Names a renamer must leave alone because of node ``n``: declared ``global``/``nonlocal``, bound by an
    import or an ``except ... as``, or read inside an f-string (whose text the renamer does not rewrite)."""
    if isinstance(n, (ast.Global, ast.Nonlocal)):
        return list(n.names)
    if isinstance(n, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in n.names]
    if isinstance(n, ast.ExceptHandler) and n.name:
        return [n.name]
    if isinstance(n, ast.JoinedStr):
        return [m.id for m in ast.walk(n) if isinstance(m, ast.Name)]
    return []
