# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Check that code which is duplicated on purpose stays identical to its source.

Two kinds of copies exist in this repository:

1. Checkpoint copies. A bundled checkpoint (``checkpoints/<name>/`` and its subfolders, e.g.
   ``gene_tokenizer/``) carries copies of the portable package files (``models/<family>/*.py``,
   ``tokenizers/tokenization_*.py`` and their sibling modules) so that it loads with
   ``trust_remote_code=True`` where txformers is not installed. Every ``.py`` file in a checkpoint folder
   must be byte-identical to the package file of the same name under ``src/txformers/models/`` or
   ``src/txformers/tokenizers/``, and every sibling it imports (``from .x import ...``) must be there too.

2. Marked copies. A class or function in a package file preceded by the line

       # Copied from txformers.models.splicebert.modeling_splicebert.SpliceBertSelfOutput with SpliceBert->Cellformer

   must equal the referenced object's source after the replacements (comma-separated ``Old->New``;
   ``Old->New all-casing`` also replaces the lower- and upper-case forms). The marker sits on the line
   just above the object (above its decorators, if any); methods are referenced as ``Class.method``.
   References are resolved by reading the source file with ``ast``, never by importing it.

Usage (from the repository root)::

    python utils/check_copies.py                  # exit 1 and list every problem
    python utils/check_copies.py --fix-overwrite  # rewrite the copies from their sources
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "txformers"
# package folders whose files may be shipped inside a checkpoint
PORTABLE_FOLDERS = ("models", "tokenizers")

COPIED_FROM = re.compile(r"^\s*# Copied from (?P<reference>txformers(?:\.\w+)+)(?:\s+with\s+(?P<with>.*\S))?\s*$")
REPLACEMENT = re.compile(r"(?P<old>\w+)->(?P<new>\w+)(?P<all_casing>\s+all-casing)?")


@dataclass
class Problem:
    path: Path
    message: str
    fix: Callable[[], None] | None = None  # None: needs a person (no source, bad marker)


# ---------------------------------------------------------------------------------------- checkpoint copies
def portable_sources(root: Path) -> dict[str, list[Path]]:
    """File name -> package files of that name under src/txformers/{models,tokenizers}."""
    sources: dict[str, list[Path]] = {}
    for folder in PORTABLE_FOLDERS:
        for path in sorted((root / "src" / PACKAGE / folder).rglob("*.py")):
            if path.name != "__init__.py":
                sources.setdefault(path.name, []).append(path)
    return sources


def sibling_imports(path: Path) -> set[str]:
    """Module names a file imports from its own folder (``from .x import y``, ``from . import x``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(alias.name for alias in node.names)
    return names


def check_checkpoint_copies(root: Path) -> list[Problem]:
    sources = portable_sources(root)
    problems = []
    for copy in sorted((root / "checkpoints").glob("*/**/*.py")):
        where = copy.relative_to(root)
        candidates = sources.get(copy.name, [])
        if len(candidates) != 1:
            found = ", ".join(str(path.relative_to(root)) for path in candidates) or "none"
            problems.append(Problem(where, f"needs exactly one package file named {copy.name} (found: {found})"))
            continue
        (source,) = candidates
        if copy.read_bytes() != source.read_bytes():
            problems.append(
                Problem(where, f"differs from {source.relative_to(root)}", partial(shutil.copyfile, source, copy))
            )
        for name in sorted(sibling_imports(source)):
            sibling = source.parent / f"{name}.py"
            if sibling.is_file() and not (copy.parent / sibling.name).is_file():
                problems.append(
                    Problem(
                        where.parent / sibling.name,
                        f"is missing: {copy.name} imports it (copy of {sibling.relative_to(root)})",
                        partial(shutil.copyfile, sibling, copy.parent / sibling.name),
                    )
                )
    return problems


# ---------------------------------------------------------------------------------------- marked copies
def object_nodes(tree: ast.Module) -> dict[str, ast.AST]:
    """Qualified name ("Class", "Class.method", "function") -> class or function node."""
    nodes = {}

    def visit(body, prefix):
        for node in body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                nodes[prefix + node.name] = node
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.")

    visit(tree.body, "")
    return nodes


def first_line(node: ast.AST) -> int:
    """1-based first line of an object, its decorators included."""
    return min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])


def object_source(lines: list[str], node: ast.AST) -> str:
    """The object's source with its own indentation removed."""
    block = lines[first_line(node) - 1 : node.end_lineno]
    indent = len(block[0]) - len(block[0].lstrip())
    return "".join(line[min(indent, len(line) - len(line.lstrip(" \t"))) :] for line in block)


def indent_source(source: str, indent: str) -> str:
    return "".join(indent + line if line.strip() else line for line in source.splitlines(keepends=True))


def parse_replacements(text: str | None) -> list[tuple[str, str]] | None:
    """``"A->B, c->d all-casing"`` -> [(A, B), (c, d), (C, D)]; None when malformed."""
    if not text:
        return []
    pairs = []
    for part in text.split(","):
        match = REPLACEMENT.fullmatch(part.strip())
        if match is None:
            return None
        old, new = match["old"], match["new"]
        pairs.append((old, new))
        if match["all_casing"]:
            pairs += [(old.lower(), new.lower()), (old.upper(), new.upper())]
    return pairs


def resolve_reference(root: Path, reference: str) -> tuple[Path, str] | None:
    """``txformers.models.x.modeling_x.Name.method`` -> (the module file, "Name.method"), by the longest
    module path that exists as a file under src/."""
    parts = reference.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = root / "src" / Path(*parts[:cut]).with_suffix(".py")
        if module.is_file():
            return module, ".".join(parts[cut:])
    return None


def expected_copy(root: Path, reference: str, replacements: str | None) -> tuple[str | None, str | None]:
    """(source of the referenced object after the replacements, None) or (None, why it cannot be found)."""
    pairs = parse_replacements(replacements)
    if pairs is None:
        return None, f"malformed replacements {replacements!r} (expected 'Old->New, Old2->New2 [all-casing]')"
    resolved = resolve_reference(root, reference)
    if resolved is None:
        return None, f"no module file for {reference}"
    module, name = resolved
    text = module.read_text()
    node = object_nodes(ast.parse(text, filename=str(module))).get(name)
    if node is None:
        return None, f"{name} is not defined in {module.relative_to(root)}"
    source = object_source(text.splitlines(keepends=True), node)
    for old, new in pairs:
        source = source.replace(old, new)
    return source, None


def marked_copies(path: Path) -> tuple[list[tuple[str, ast.AST, re.Match]], list[int]]:
    """([(qualified name, node, marker match)], line numbers of markers that mark no class or function)."""
    text = path.read_text()
    lines = text.splitlines()
    markers = {number: COPIED_FROM.match(line) for number, line in enumerate(lines, start=1)}
    markers = {number: match for number, match in markers.items() if match}
    if not markers:
        return [], []
    found = []
    for name, node in object_nodes(ast.parse(text, filename=str(path))).items():
        match = markers.pop(first_line(node) - 1, None)
        if match is not None:
            found.append((name, node, match))
    return found, sorted(markers)


def overwrite_marked_copy(root: Path, path: Path, name: str) -> None:
    """Rewrite the object ``name`` of ``path`` from the source its marker references."""
    lines = path.read_text().splitlines(keepends=True)
    for marked, node, match in marked_copies(path)[0]:
        if marked == name:
            expected, _ = expected_copy(root, match["reference"], match["with"])
            start, end = first_line(node) - 1, node.end_lineno
            indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
            new = indent_source(expected, indent)
            if not new.endswith("\n") and end < len(lines):
                new += "\n"
            path.write_text("".join(lines[:start]) + new + "".join(lines[end:]))
            return


def check_marked_copies(root: Path) -> list[Problem]:
    problems = []
    for path in sorted((root / "src" / PACKAGE).rglob("*.py")):
        where = path.relative_to(root)
        found, dangling = marked_copies(path)
        for line in dangling:
            problems.append(Problem(where, f"line {line}: '# Copied from' marker is not right above a class or def"))
        for name, node, match in found:
            expected, error = expected_copy(root, match["reference"], match["with"])
            if error:
                problems.append(Problem(where, f"line {node.lineno}: {name}: {error}"))
                continue
            actual = object_source(path.read_text().splitlines(keepends=True), node)
            if actual != expected:
                diff = "".join(
                    difflib.unified_diff(
                        expected.splitlines(keepends=True),
                        actual.splitlines(keepends=True),
                        fromfile=f"{match['reference']} (after replacements)",
                        tofile=f"{where}:{node.lineno} {name}",
                    )
                )
                problems.append(
                    Problem(
                        where,
                        f"line {node.lineno}: {name} differs from {match['reference']}:\n{diff}",
                        partial(overwrite_marked_copy, root, path, name),
                    )
                )
    return problems


# ---------------------------------------------------------------------------------------- entry point
def check_copies(root: Path = REPO_ROOT, overwrite: bool = False) -> list[Problem]:
    """Every problem found; with ``overwrite``, fix what can be fixed and return what is left."""
    problems = check_checkpoint_copies(root) + check_marked_copies(root)
    if overwrite and any(problem.fix for problem in problems):
        for problem in problems:
            if problem.fix is not None:
                problem.fix()
                print(f"fixed {problem.path}: {problem.message.splitlines()[0]}")
        problems = check_checkpoint_copies(root) + check_marked_copies(root)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fix-overwrite", action="store_true", help="rewrite drifted copies from their sources")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    problems = check_copies(args.root, overwrite=args.fix_overwrite)
    for problem in problems:
        print(f"{problem.path}: {problem.message}")
    if problems:
        hint = "" if args.fix_overwrite else " (run `python utils/check_copies.py --fix-overwrite` to fix copies)"
        print(f"{len(problems)} problem(s){hint}", file=sys.stderr)
        return 1
    print("All copies are consistent.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
