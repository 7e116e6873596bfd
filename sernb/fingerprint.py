"""Fingerprints of the code that makes the numbers, so stored results can never go stale.

The results store (:mod:`sernb.experiments`) and the feature caches (:mod:`sernb.data.features`)
key what they store on a fingerprint of the ``sernb`` modules that can change it, not on the
package's version string: after an edit to the model, the training loop or the features, a rerun
computes new numbers instead of showing the old ones. The fingerprint is a hash of each module's
syntax tree with docstrings removed, so comments, docstrings, formatting and the book's prose do
not invalidate anything, while any change to what the code does does.

Which modules count is worked out, not listed: a module's fingerprint covers the module and every
``sernb`` module it imports, directly or inside a function, transitively. ``code_fingerprint()``
is the fingerprint of :mod:`sernb.experiments` (everything a stored run depends on); the
evaluation-protocol chapter ("The evaluation protocol") shows it in its provenance line, as do
the other chapters that show stored numbers.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name


def _module_file(name: str) -> Path | None:
    """``sernb.data.features`` -> its file (a module or a package's ``__init__``), or None."""
    parts = name.split(".")[1:]
    base = PACKAGE_DIR.joinpath(*parts) if parts else PACKAGE_DIR
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_DIR).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


@cache
def _parsed(path: Path) -> tuple[str, frozenset[str]]:
    """(hash of the docstring-free syntax tree, the sernb modules it imports) of one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            imported.add(module)
            imported.update(f"{module}.{a.name}" for a in node.names)  # `from pkg import submodule`
    ours = frozenset(m for m in imported if m == PACKAGE or m.startswith(PACKAGE + "."))
    digest = hashlib.sha256(ast.dump(_without_docstrings(tree)).encode("utf-8")).hexdigest()
    return digest, ours


def dependencies(module: str) -> list[str]:
    """``module`` and every sernb module it imports, transitively, sorted."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        todo.extend(_parsed(path)[1])
    return sorted(seen)


def fingerprint(*modules: str, length: int = 12) -> str:
    """A short hash of the code of ``modules`` and everything in sernb they import."""
    names = sorted({dep for module in modules for dep in dependencies(module)})
    blob = "\n".join(f"{name} {_parsed(_module_file(name))[0]}" for name in names)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


def code_fingerprint() -> str:
    """The fingerprint every stored run is keyed on: the code :mod:`sernb.experiments` runs."""
    return fingerprint(f"{PACKAGE}.experiments")
