"""utils/check_copies.py: checkpoint copies and `# Copied from` markers, on small fake trees and on this repository."""

import importlib.util
import subprocess
import sys

import pytest

from txformers.hub import REPO_ROOT

SCRIPT = REPO_ROOT / "utils" / "check_copies.py"
spec = importlib.util.spec_from_file_location("check_copies", SCRIPT)
check_copies = importlib.util.module_from_spec(spec)
sys.modules.setdefault("check_copies", check_copies)  # dataclasses look their module up there
spec.loader.exec_module(check_copies)

MODELING_FOO = '''\
import torch


class FooLayer(torch.nn.Module):
    """One layer."""

    def forward(self, x):
        # foo comment
        return self.foo_scale(x) + 1

    @staticmethod
    def foo_scale(x):
        return 2 * x


def foo_helper(x):
    return x * 2
'''

MODELING_BAR = '''\
import torch


# Copied from txformers.models.foo.modeling_foo.FooLayer with Foo->Bar, foo->bar
class BarLayer(torch.nn.Module):
    """One layer."""

    def forward(self, x):
        # bar comment
        return self.bar_scale(x) + 1

    @staticmethod
    def bar_scale(x):
        return 2 * x


# Copied from txformers.models.foo.modeling_foo.foo_helper with foo->bar
def bar_helper(x):
    return x * 3


class BazLayer(torch.nn.Module):
    # Copied from txformers.models.foo.modeling_foo.FooLayer.foo_scale with foo->baz
    @staticmethod
    def baz_scale(x):
        return 2 * x
'''

TOKENIZATION_FOO = "from .foo_vocabulary import VOCAB\n\n\nclass FooTokenizer:\n    vocab = VOCAB\n"
FOO_VOCABULARY = "VOCAB = ['A', 'C', 'G', 'T']\n"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def tree(tmp_path):
    """A fake repository: a source module, a module with three marked copies (one drifted), and a checkpoint
    with an up-to-date copy, a drifted copy and a tokenizer folder missing the sibling its tokenizer imports."""
    package = tmp_path / "src" / "txformers"
    foo = write(package / "models" / "foo" / "modeling_foo.py", MODELING_FOO)
    write(package / "models" / "foo" / "configuration_foo.py", "class FooConfig:\n    pass\n")
    write(package / "models" / "bar" / "modeling_bar.py", MODELING_BAR)
    write(package / "tokenizers" / "tokenization_foo.py", TOKENIZATION_FOO)
    write(package / "tokenizers" / "foo_vocabulary.py", FOO_VOCABULARY)
    checkpoint = tmp_path / "checkpoints" / "foo-tiny"
    write(checkpoint / "configuration_foo.py", "class FooConfig:\n    pass\n")
    write(checkpoint / "modeling_foo.py", foo.read_text().replace("return x * 2", "return x * 4"))
    write(checkpoint / "gene_tokenizer" / "tokenization_foo.py", TOKENIZATION_FOO)
    return tmp_path


def messages(problems):
    return "\n".join(f"{problem.path}: {problem.message}" for problem in problems)


def test_drift_is_detected_with_a_diff(tree):
    problems = check_copies.check_copies(tree)
    report = messages(problems)
    assert len(problems) == 3, report
    # the marked copy that drifted, with a unified diff of the expected and actual bodies
    (drifted,) = [problem for problem in problems if "bar_helper" in problem.message]
    assert str(drifted.path) == "src/txformers/models/bar/modeling_bar.py"
    assert "-    return x * 2\n+    return x * 3" in drifted.message
    assert "txformers.models.foo.modeling_foo.foo_helper (after replacements)" in drifted.message
    # the copies that match after their replacements (a class, a decorated method) are not reported
    assert "BarLayer" not in report and "baz_scale" not in report
    # the drifted checkpoint copy, and the sibling module its tokenizer needs
    assert "checkpoints/foo-tiny/modeling_foo.py: differs from src/txformers/models/foo/modeling_foo.py" in report
    assert "checkpoints/foo-tiny/gene_tokenizer/foo_vocabulary.py: is missing" in report
    assert "configuration_foo.py" not in report and "tokenization_foo.py:" not in report


def test_fix_overwrite_rewrites_every_copy(tree):
    assert check_copies.check_copies(tree, overwrite=True) == []
    assert check_copies.check_copies(tree) == []
    bar = (tree / "src/txformers/models/bar/modeling_bar.py").read_text()
    assert "def bar_helper(x):\n    return x * 2\n\n\nclass BazLayer" in bar
    assert bar.replace("return x * 2\n\n\nclass", "return x * 3\n\n\nclass") == MODELING_BAR  # nothing else moved
    foo = tree / "src/txformers/models/foo/modeling_foo.py"
    assert (tree / "checkpoints/foo-tiny/modeling_foo.py").read_bytes() == foo.read_bytes()
    assert (tree / "checkpoints/foo-tiny/gene_tokenizer/foo_vocabulary.py").read_text() == FOO_VOCABULARY


def test_fix_overwrite_of_a_method_keeps_its_indentation(tree):
    bar = tree / "src/txformers/models/bar/modeling_bar.py"
    bar.write_text(bar.read_text().replace("        return 2 * x\n", "        return 5 * x\n"))
    problems = check_copies.check_marked_copies(tree)
    assert {problem.message.split()[2] for problem in problems} == {
        "BarLayer",
        "bar_helper",
        "BazLayer.baz_scale",
    }
    check_copies.check_copies(tree, overwrite=True)
    assert bar.read_text().endswith(
        "    # Copied from txformers.models.foo.modeling_foo.FooLayer.foo_scale with "
        "foo->baz\n    @staticmethod\n    def baz_scale(x):\n        return 2 * x\n"
    )


def test_all_casing_replacement(tree):
    write(tree / "src/txformers/models/foo/modeling_foo.py", "def foo_act(x):\n    return FOO_CONST * Foo(x)\n")
    write(
        tree / "src/txformers/models/bar/modeling_bar.py",
        "# Copied from txformers.models.foo.modeling_foo.foo_act with Foo->Bar all-casing\n"
        "def bar_act(x):\n    return BAR_CONST * Bar(x)\n",
    )
    assert check_copies.check_marked_copies(tree) == []


@pytest.mark.parametrize(
    "marker, expected",
    [
        ("# Copied from txformers.models.foo.modeling_foo.FooLayer with Foo=>Bar", "malformed replacements"),
        ("# Copied from txformers.models.foo.modeling_foo.NoSuchLayer", "NoSuchLayer is not defined in"),
        ("# Copied from txformers.models.nope.modeling_nope.FooLayer", "no module file for"),
    ],
)
def test_bad_markers_are_reported_and_left_alone(tree, marker, expected):
    path = write(tree / "src/txformers/models/bar/modeling_bar.py", f"{marker}\nclass BarLayer:\n    pass\n")
    (problem,) = check_copies.check_marked_copies(tree)
    assert expected in problem.message and problem.fix is None
    check_copies.check_copies(tree, overwrite=True)
    assert path.read_text() == f"{marker}\nclass BarLayer:\n    pass\n"


def test_markers_that_mark_nothing_and_orphan_checkpoint_files(tree):
    write(
        tree / "src/txformers/models/bar/modeling_bar.py",
        "# Copied from txformers.models.foo.modeling_foo.foo_helper\n\ndef bar_helper(x):\n    return x * 2\n",
    )
    write(tree / "checkpoints/foo-tiny/old_helpers.py", "x = 1\n")
    report = messages(check_copies.check_copies(tree, overwrite=True))
    assert "line 1: '# Copied from' marker is not right above a class or def" in report
    assert (
        "checkpoints/foo-tiny/old_helpers.py: needs exactly one package file named old_helpers.py (found: none)"
        in report
    )


def test_command_line_exit_codes(tree):
    def run(*args):
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--root", str(tree), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )

    failed = run()
    assert failed.returncode == 1 and "bar_helper differs from" in failed.stdout and "--fix-overwrite" in failed.stderr
    fixed = run("--fix-overwrite")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "fixed checkpoints/foo-tiny/modeling_foo.py" in fixed.stdout
    assert run().returncode == 0


def test_this_repository_has_no_drifted_copies():
    """The CI gate: `python utils/check_copies.py` passes on this repository."""
    problems = check_copies.check_copies(REPO_ROOT)
    assert not problems, messages(problems) + "\n(run `python utils/check_copies.py --fix-overwrite`)"
    assert sorted((REPO_ROOT / "checkpoints").glob("*/**/*.py")), "no code files in checkpoints/"
