import json

from huggingface_hub import ModelCard

from txformers.model_cards import main


def test_card_numbers_come_from_the_results_file(tmp_path):
    results = {
        "steps": 321,
        "eval": {"masked_tokens": 777, "loss": 1.2345678, "accuracy": 0.41234, "balanced_accuracy": 0.40111},
        "args": {"preset": "small", "lr": 0.001, "batch_size": 16, "min_length": 128, "max_length": 602,
                 "train_files": ["train.txt"], "resume": False},
    }  # fmt: skip
    (tmp_path / "eval.json").write_text(json.dumps(results))
    out = tmp_path / "cards" / "m.md"
    main(["splicebert-mlm", str(tmp_path / "eval.json"), "--name", "m", "--out", str(out)])
    card = ModelCard.load(out)
    values = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert values == {"accuracy": 0.4123, "balanced_accuracy": 0.4011}
    text = out.read_text()
    assert "| masked tokens scored | 777 |" in text and "321 steps" in text
    assert "--train-files train.txt" in text and "--resume" not in text
