"""Text encoders: the BiGRU with its vocabulary, and the bundled all-MiniLM-L6-v2 loaded offline."""

from __future__ import annotations

import pytest
import torch

from inpaintkit.errors import UnknownNameError
from inpaintkit.layers.text import UNK, BiGRUTextEncoder, create_text_encoder, tokenize


def test_tokenize():
    assert tokenize("A red-crowned  Bird, isn't it?") == ["a", "red", "crowned", "bird", "isn't", "it"]
    assert tokenize("") == []


def test_bigru_vocabulary_ids_and_features():
    torch.manual_seed(0)
    enc = create_text_encoder("bigru", hidden=6, embed_dim=5, vocab_size=10)
    enc.build_vocabulary(["a red circle", "a blue square", "a red square"])
    assert enc.vocabulary_size == 5  # a, red, square, blue, circle
    ids, lengths = enc.ids(["a red circle", "a green circle", ""])
    assert lengths.tolist() == [3, 3, 0]
    assert ids[1, 1] == UNK and ids[0, 1] != UNK and ids[2].tolist() == [0, 0, 0]
    f = enc(["a red circle", "a green circle", ""])
    assert f.words.shape == (3, 3, 12) and f.sentence.shape == (3, 12) and f.dim == 12
    assert f.mask.tolist() == [[True] * 3, [True] * 3, [False] * 3]
    assert (f.sentence[2] == 0).all() and (f.words[2] == 0).all()
    assert not torch.allclose(f.sentence[0], f.sentence[1])
    f.sentence.sum().backward()  # trained with the model
    assert enc.embed.weight.grad is not None


def test_bigru_vocabulary_is_saved_with_the_weights():
    torch.manual_seed(0)
    enc = BiGRUTextEncoder(hidden=4, embed_dim=3, vocab_size=8)
    assert enc.add_words(["red", "blue", "red"]) == 2
    assert enc.add_words(["c", "d", "e", "f", "g"]) == 4  # 6 word slots: the last word stays unknown
    other = BiGRUTextEncoder(hidden=4, embed_dim=3, vocab_size=8)
    assert other.ids(["red blue"])[0].tolist() == [[UNK, UNK]]
    other.load_state_dict(enc.state_dict())
    assert other.ids(["red blue g"])[0].tolist() == enc.ids(["red blue g"])[0].tolist() == [[2, 3, UNK]]
    assert torch.allclose(other(["red blue"]).sentence, enc(["red blue"]).sentence)


def test_unknown_encoder_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="bigru, minilm"):
        create_text_encoder("bert")


@pytest.fixture(scope="module")
def minilm():
    return create_text_encoder("minilm")


@pytest.mark.slow
def test_minilm_loads_offline_and_is_deterministic(minilm, monkeypatch):
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    caps = ["a small bird with a red crown", "two grey cats", ""]
    f = minilm(caps)
    assert f.dim == 384 and f.words.shape[0] == 3 and f.words.shape[2] == 384
    assert f.mask.sum(1).tolist()[2] == 0 and f.mask.sum(1).tolist()[1] == 3  # special tokens left out
    assert torch.allclose(f.sentence[:2].norm(dim=-1), torch.ones(2), atol=1e-5) and (f.sentence[2] == 0).all()
    again = create_text_encoder("minilm", cache_size=0)(caps)  # fresh model, no cache
    assert torch.allclose(f.sentence, again.sentence, atol=1e-5)
    assert torch.allclose(f.words[:, : again.words.shape[1]], again.words[:, : f.words.shape[1]], atol=1e-4)
    near = minilm(["a little bird with a red head"]).sentence[0]
    assert near @ f.sentence[0] > near @ f.sentence[1] + 0.2  # pretrained: meaning, not spelling
    assert len(minilm.state_dict()) == 0 and not any(p.requires_grad for p in minilm.model.parameters())
