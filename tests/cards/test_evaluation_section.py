"""The generic `txformers evaluate` card section: rows with CIs from evaluation.json, an idempotent marked block."""

import json

import pytest

from txformers.cards.evaluation_section import (
    BEGIN,
    END,
    evaluation_markdown,
    recorded_section,
    replace_block,
)
from txformers.cards.render import BUNDLED, SCRIPT_CARDS, bundled_card_paths
from txformers.evaluation import RECORD_FILE, make_results, make_row
from txformers.hub import REPO_ROOT


def record():
    rows = [
        make_row("ckpt", "auroc", [0.90, 0.92, 0.94], setting="donor (Test)"),
        make_row("baseline", "auroc", [0.70, 0.71, 0.75], setting="donor (Test)", method="one-hot"),
    ]
    return make_results(
        "checkpoints/ckpt",
        "../shared/data/x",
        "Test",
        [0, 1],
        "txformers evaluate checkpoints/ckpt",
        rows,
        notes=["a note"],
    )


def test_section_renders_every_row_with_its_ci():
    results = record()
    text = evaluation_markdown(results, "ckpt")
    assert text.startswith("## Evaluation (`txformers evaluate ckpt`)")
    for row in results["rows"]:
        low, high = row["ci95"]
        assert f"{row['value']:.4f} [{low:.4f}, {high:.4f}]" in text
        assert f"| {row['n']} |" in text
    assert "| donor (Test) | **`ckpt`** | auroc |" in text
    assert "| donor (Test); method: one-hot | `baseline` | auroc |" in text
    assert "* data: `../shared/data/x`" in text and "* seeds: 0, 1" in text and "* a note" in text
    assert "txformers evaluate checkpoints/ckpt --check" in text
    assert evaluation_markdown(None, "ckpt") == ""


def test_recorded_section_reads_the_full_record(tmp_path):
    assert recorded_section(tmp_path, "ckpt") == ""
    (tmp_path / RECORD_FILE).write_text(json.dumps({"full": record()}))
    assert recorded_section(tmp_path, "ckpt") == evaluation_markdown(record(), "ckpt")


def test_block_replacement_is_idempotent():
    readme = "# ckpt\n\nwritten by a script\n"
    once = replace_block(readme, "## Evaluation\n\nold")
    assert once.startswith(readme.rstrip()) and once.count(BEGIN) == 1 and once.endswith(f"{END}\n")
    assert replace_block(once, "## Evaluation\n\nold") == once
    twice = replace_block(once, "## Evaluation\n\nnew")
    assert "new" in twice and "old" not in twice and twice.count(BEGIN) == 1
    middle = f"# a\n\n{BEGIN}\nx\n{END}\n\n## after\n"
    assert replace_block(middle, "y") == f"# a\n\n{BEGIN}\ny\n{END}\n\n## after\n"
    with pytest.raises(ValueError):
        replace_block(f"a\n{BEGIN}\nno end", "y")


SPLICEBERT = [name for name in BUNDLED if name.startswith("splicebert")] + list(SCRIPT_CARDS)


@pytest.mark.parametrize("name", SPLICEBERT)
def test_bundled_splicebert_cards_carry_the_evaluate_command(name):
    if not (REPO_ROOT / "checkpoints" / name / RECORD_FILE).is_file():
        pytest.skip(f"checkpoints/{name} has no {RECORD_FILE}")
    paths = bundled_card_paths(name) if name in BUNDLED else [REPO_ROOT / "checkpoints" / name / "README.md"]
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert f"## Evaluation (`txformers evaluate {name}`)" in text
        assert f"txformers evaluate checkpoints/{name} --check" in text


def test_bundled_refreshes_and_checks_the_block_of_script_written_readmes(tmp_path, capsys):
    from txformers.cards.render import write_bundled

    folder = tmp_path / "checkpoints" / SCRIPT_CARDS[0]
    folder.mkdir(parents=True)
    (folder / RECORD_FILE).write_text(json.dumps({"full": record()}))
    readme = folder / "README.md"
    readme.write_text("# written by the training script\n")
    assert write_bundled(check=True, root=tmp_path) == 1
    assert write_bundled(root=tmp_path) == 0
    written = readme.read_text()
    assert written.startswith("# written by the training script\n") and evaluation_markdown(record(), SCRIPT_CARDS[0])
    assert evaluation_markdown(record(), SCRIPT_CARDS[0]) in written
    assert write_bundled(check=True, root=tmp_path) == 0
    write_bundled(root=tmp_path)
    assert readme.read_text() == written
