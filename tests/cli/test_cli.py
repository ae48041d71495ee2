"""The `txformers` command line as a whole: one entry point, one module per command group, clear errors."""

import ast
import subprocess
import sys

import pytest

from txformers.cli import build_parser, command_modules, main
from txformers.hub import REPO_ROOT

PACKAGE = REPO_ROOT / "src" / "txformers"


def test_python_dash_m_lists_every_command():
    done = subprocess.run(
        [sys.executable, "-m", "txformers.cli", "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    commands = build_parser()._subparsers._group_actions[0].choices
    assert set(command_modules()) <= set(commands)
    for name in commands:
        assert name in done.stdout
    assert "examples:" in done.stdout


def _commands(parser, prefix=()):
    """Every runnable command line (``("drug", "fewshot")``, ``("demo",)``...): the leaves of the parser tree."""
    if parser._subparsers is None:
        return [prefix]
    choices = [action for action in parser._subparsers._group_actions if hasattr(action, "choices")][0].choices
    return [leaf for name, sub in choices.items() for leaf in _commands(sub, (*prefix, name))]


def test_every_command_help_shows_examples(capsys):
    commands = _commands(build_parser())
    assert ("demo",) in commands and ("train",) in commands
    for command in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--help"])
        assert exit_info.value.code == 0
        assert "example" in capsys.readouterr().out, f"`txformers {' '.join(command)} --help` shows no example"


def test_bad_input_is_one_line_and_exit_status_2(capsys):
    assert main(["train", "no-such-recipe"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("txformers train: error: ") and len(error.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exit_info:  # unknown command: argparse's usage error
        main(["no-such-command"])
    assert exit_info.value.code == 2


def test_nothing_imports_the_cli():
    """cli/ is the top layer: no module outside it imports it (model cards, tasks, pipelines...)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts[:1]:
            continue
        package = ["txformers", *path.relative_to(PACKAGE).parent.parts]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, node.module or ""]).strip(".")
                names = [f"{module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if any(name == "txformers.cli" or name.startswith("txformers.cli.") for name in names):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, f"modules importing txformers.cli: {offenders}"
