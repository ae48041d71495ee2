import pytest
import torch

from txformers.models.splicebert import SpliceBertForVariantEffect


def _batch(n=3, length=40):
    torch.manual_seed(0)
    wt = torch.randint(5, 9, (n, length + 2))
    wt[:, 0], wt[:, -1] = 2, 3
    mut = wt.clone()
    mut[:, 11] = torch.where(wt[:, 11] == 5, 6, 5)
    return wt, mut, torch.full((n,), 10), torch.full((n,), 5), torch.full((n,), 25)


def test_forward_backward_and_round_trip(tiny_splicebert_config, tmp_path):
    model = SpliceBertForVariantEffect(tiny_splicebert_config)
    wt, mut, pos, start, end = _batch()
    ratios = torch.tensor([[0.5, float("nan")], [-1.0, -2.0], [float("-inf"), 1.0]])
    out = model(wt, mut, pos, start, end, labels=torch.tensor([1, 0, 1]), ratios=ratios)
    assert out.logits.shape == (3,) and out.ratios.shape == (3, 2) and torch.isfinite(out.loss)
    out.loss.backward()
    assert model.variant_head[2].weight.grad.abs().sum() > 0
    assert model.bert.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    model.eval()
    model.save_pretrained(tmp_path)
    loaded = SpliceBertForVariantEffect.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(loaded(wt, mut, pos, start, end).logits, model(wt, mut, pos, start, end).logits)


def test_identical_pair_has_zero_difference_features(tiny_splicebert_config):
    model = SpliceBertForVariantEffect(tiny_splicebert_config).eval()
    wt, mut, pos, start, end = _batch()
    hidden = tiny_splicebert_config.hidden_size
    same = model.pair_features(wt, wt, pos, start, end)
    different = model.pair_features(wt, mut, pos, start, end)
    assert same[:, : 6 * hidden].abs().max() == 0
    assert different[:, : 2 * hidden].abs().max() > 0


def test_pipeline_scores_a_pair_like_the_model(tiny_splicebert_config, tmp_path):
    from transformers import pipeline

    from txformers import NucleotideTokenizer

    model = SpliceBertForVariantEffect(tiny_splicebert_config).eval()
    model.config.architectures = ["SpliceBertForVariantEffect"]
    model.save_pretrained(tmp_path)
    NucleotideTokenizer().save_pretrained(tmp_path)
    wt = "CCCCCAG" + "ACGTACGTAC" + "GTAAGCCCCC"
    mut = wt[:10] + "A" + wt[11:]
    scorer = pipeline("splice-variant-pair", model=str(tmp_path))
    result = scorer({"wt": wt, "mut": mut, "exon_start": 7, "exon_end": 17})
    assert (result["position"], result["ref"], result["alt"]) == (10, wt[10], "A")
    tokenizer = NucleotideTokenizer()
    ids = tokenizer([wt, mut], return_tensors="pt")["input_ids"]
    logit = model(ids[:1], ids[1:], torch.tensor([10]), torch.tensor([7]), torch.tensor([17])).logits
    assert result["logit"] == pytest.approx(float(logit.detach()), abs=1e-5)
    assert 0 < result["score"] < 1
    with pytest.raises(ValueError, match="exon"):
        scorer({"wt": wt, "mut": mut, "exon_start": 7, "exon_end": 99})
