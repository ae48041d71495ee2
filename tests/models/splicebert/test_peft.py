import torch
from peft import LoraConfig, PeftModel, get_peft_model

from txformers import NucleotideTokenizer, SpliceBertConfig, SpliceBertForSequenceClassification


def _toy_batch(tokenizer, n=32, seed=0):
    """Windows labelled 1 when they carry a GT at the centre, 0 for AG: learnable by attention."""
    generator = torch.Generator().manual_seed(seed)
    letters = "ACGT"
    sequences, labels = [], []
    for i in range(n):
        flank = "".join(letters[j] for j in torch.randint(0, 4, (20,), generator=generator).tolist())
        label = i % 2
        sequences.append(flank[:10] + ("GT" if label else "AG") + flank[10:])
        labels.append(label)
    batch = tokenizer(sequences, padding=True, return_tensors="pt")
    return batch, torch.tensor(labels)


def test_lora_attaches_trains_and_reloads(tmp_path, tiny_splicebert_config):
    torch.manual_seed(0)
    config = SpliceBertConfig(**{**tiny_splicebert_config.to_dict(), "num_labels": 2, "classifier_pooling": "center"})
    base = SpliceBertForSequenceClassification(config)
    lora = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["query", "key", "value", "dense"],
        modules_to_save=["classifier"],
        lora_dropout=0.0,
    )
    model = get_peft_model(base, lora)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name or "classifier" in name for name in trainable)
    assert any("attention.self.query.lora_A" in name for name in trainable)
    frozen_before = base.bert.encoder.layer[0].attention.self.query.base_layer.weight.clone()

    batch, labels = _toy_batch(NucleotideTokenizer())
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    losses = []
    for _ in range(60):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert torch.equal(frozen_before, base.bert.encoder.layer[0].attention.self.query.base_layer.weight)

    model.eval()
    with torch.no_grad():
        expected = model(**batch).logits
    model.save_pretrained(tmp_path / "adapter")
    torch.manual_seed(0)
    fresh = SpliceBertForSequenceClassification(config)
    reloaded = PeftModel.from_pretrained(fresh, tmp_path / "adapter").eval()
    with torch.no_grad():
        assert (reloaded(**batch).logits - expected).abs().max() < 1e-5
