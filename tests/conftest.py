from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

requires_shared_data = pytest.mark.skipif(not SHARED_DATA.exists(), reason=f"real data folder {SHARED_DATA} is absent")


@pytest.fixture
def tiny_splicebert_config():
    from txformers import SpliceBertConfig

    return SpliceBertConfig(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=130,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
