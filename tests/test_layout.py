"""The layout rules of ARCHITECTURE.md, checked on the source: module size, import direction, portability."""

import ast
import sys
from pathlib import Path

import pytest

import txformers

PACKAGE = Path(txformers.__file__).resolve().parent
MAX_LINES = 800
# What a portable file (copied into checkpoints) may import besides the standard library and its own folder.
PORTABLE_IMPORTS = {"torch", "transformers", "numpy", "tokenizers", "safetensors", "huggingface_hub"}
# Optional libraries a portable file may use only inside a function, behind a clear ImportError (DESIGN.md).
LAZY_IMPORTS = {"rdkit", "anndata", "pandas", "scipy"}


def _modules(*folders: str) -> list[Path]:
    roots = [PACKAGE / folder for folder in folders] if folders else [PACKAGE]
    return sorted(path for root in roots for path in root.rglob("*.py"))


def _top_level_nodes(tree: ast.Module):
    """Every node outside function bodies (module level, class bodies, top-level try/if blocks)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imported(path: Path, module_level: bool = False) -> list[tuple[int, str, int]]:
    """(line, absolute module name, relative level) of every import in ``path`` (or only the module-level ones)."""
    package = ["txformers", *path.relative_to(PACKAGE).parent.parts]
    found = []
    tree = ast.parse(path.read_text())
    for node in _top_level_nodes(tree) if module_level else ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            found.append((node.lineno, ".".join([*base, node.module or ""]).strip("."), node.level))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, 0) for alias in node.names)
    return found


def test_no_module_is_longer_than_800_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("layer", ["cli", "models", "tasks", "tokenizers", "datasets", "cards"])
def test_only_training_entry_points_import_training(layer):
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in _modules(layer)
        for line, module, _ in _imported(path)
        if module == "txformers.training" or module.startswith("txformers.training.")
    ]
    assert not offenders, f"{layer}/ imports training/: {offenders}"


@pytest.mark.parametrize("path", _modules("models"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_model_files_are_portable(path):
    """A file under models/<family>/ imports only the standard library, the portable libraries and its siblings."""
    if path.name == "__init__.py" or path.name.startswith("convert_"):
        pytest.skip("package glue and converters are not copied into checkpoints")
    module_level = {line for line, _, _ in _imported(path, module_level=True)}
    bad = []
    for line, module, level in _imported(path):
        top = module.split(".")[0]
        if level == 1 or top in PORTABLE_IMPORTS or top in sys.stdlib_module_names or top == "__future__":
            continue
        if top in LAZY_IMPORTS and line not in module_level:
            continue
        bad.append(f"line {line}: {module}")
    assert not bad, f"{path.name} is copied into checkpoints but imports {bad}"


def test_tasks_hold_one_folder_per_family():
    assert {p.name for p in (PACKAGE / "tasks").iterdir() if p.is_dir() and p.name != "__pycache__"} >= {
        "splicing",
        "drug_response",
        "cytokine",
    }
