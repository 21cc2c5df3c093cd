"""Attention maths of TDANet's dual multimodal attention, short+long-term attention and the DAMSM losses."""

from __future__ import annotations

import torch

from inpaintkit.layers.multimodal import (
    DualMultimodalAttention,
    ShortLongTermAttention,
    damsm_sentence_loss,
    damsm_word_loss,
    masked_max_pool,
    word_region_attention,
)


def _inputs(n=2, c=8, h=3, w=4, L=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    regions = torch.randn(n, c, h, w, generator=g)
    words = torch.randn(n, L, c, generator=g)
    mask = torch.ones(n, L, dtype=torch.bool)
    mask[0, 3:] = False  # sample 0 has 3 words, the rest is padding
    return regions, words, mask


def test_word_region_attention_shapes_and_rows_sum_to_one():
    regions, words, mask = _inputs()
    context, attn = word_region_attention(regions, words, mask)
    assert context.shape == (2, 8, 3, 4) and attn.shape == (2, 12, 5)
    assert torch.allclose(attn.sum(-1), torch.ones(2, 12), atol=1e-6)
    assert (attn[0, :, 3:] == 0).all()  # padded words get no weight
    # context is the weighted sum of word features
    manual = torch.einsum("nrl,nlc->ncr", attn, words).reshape(2, 8, 3, 4)
    assert torch.allclose(context, manual, atol=1e-6)


def test_negated_attention_prefers_the_least_similar_word():
    regions, words, mask = _inputs()
    _, pos = word_region_attention(regions, words, mask)
    _, neg = word_region_attention(regions, words, mask, negate=True)
    scores = torch.einsum("ncr,nlc->nrl", regions.flatten(2), words) / 8**0.5
    expected = torch.softmax((-scores).masked_fill(~mask[:, None], float("-inf")), -1)
    assert torch.allclose(neg, expected, atol=1e-6)
    valid = mask[1]
    assert (neg[1].argmax(-1) == scores[1][:, valid].argmin(-1)).all()
    assert (pos[1].argmax(-1) == scores[1][:, valid].argmax(-1)).all()


def test_caption_without_words_gives_zero_attention_not_nan():
    regions, words, mask = _inputs()
    mask[1] = False
    context, attn = word_region_attention(regions, words, mask, negate=True)
    assert torch.isfinite(context).all() and (attn[1] == 0).all() and (context[1] == 0).all()


def test_masked_max_pool_ignores_excluded_positions():
    x = torch.arange(8.0).view(1, 2, 2, 2)  # channel 0: 0..3, channel 1: 4..7
    weight = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])  # only the left column counts
    assert masked_max_pool(x, weight).tolist() == [[2.0, 6.0]]
    assert masked_max_pool(x, torch.zeros(1, 1, 2, 2)).tolist() == [[3.0, 7.0]]  # none: every position


def test_dual_attention_paths_see_their_own_regions():
    torch.manual_seed(0)
    dma = DualMultimodalAttention(image_dim=6, text_dim=10, out_dim=4)
    feats = torch.randn(2, 6, 2, 2)
    hole_feats = torch.randn(2, 6, 2, 2)
    words = torch.randn(2, 7, 10)
    wmask = torch.ones(2, 7, dtype=torch.bool)
    frac = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]]).repeat(2, 1, 1, 1)  # top-left region is all hole
    t_inp, t_aux = dma(feats, frac, words, wmask, hole_feats=hole_feats)
    assert t_inp.shape == (2, 4) and t_aux.shape == (2, 4)
    assert dma(feats, frac, words, wmask)[1] is None  # inference: no auxiliary path
    changed = feats.clone()
    changed[:, :, 0, 0] += 5.0  # features under the hole do not move the inpainting path
    assert torch.allclose(dma(changed, frac, words, wmask)[0], t_inp)
    changed_h = hole_feats.clone()
    changed_h[:, :, 1, 1] += 5.0  # visible regions do not move the auxiliary path
    assert torch.allclose(dma(feats, frac, words, wmask, hole_feats=changed_h)[1], t_aux)
    changed_h[:, :, 0, 0] += 5.0
    assert not torch.allclose(dma(feats, frac, words, wmask, hole_feats=changed_h)[1], t_aux)


def test_short_long_term_attention_copies_only_from_visible_positions():
    torch.manual_seed(0)
    att = ShortLongTermAttention(channels=8, enc_channels=6)
    with torch.no_grad():
        att.gamma.fill_(1.0)
        att.gamma_ctx.fill_(1.0)
    x, enc = torch.randn(1, 8, 4, 4), torch.randn(1, 6, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 1:3, 1:3] = 1.0
    out, attn = att(x, enc, mask)
    assert out.shape == (1, 8, 4, 4) and attn.shape == (1, 16, 16)
    assert torch.allclose(attn.sum(-1), torch.ones(1, 16), atol=1e-6)
    enc2 = enc.clone()
    enc2[..., 1:3, 1:3] = 100.0  # encoder features under the hole are never copied
    assert torch.allclose(att(x, enc2, mask)[0], out, atol=1e-5)


def test_damsm_losses_prefer_matching_pairs():
    torch.manual_seed(0)
    n, d, L = 4, 16, 5
    words = torch.randn(n, L, d)
    wmask = torch.ones(n, L, dtype=torch.bool)
    regions = words.mean(1)[:, :, None, None].expand(n, d, 2, 2) + 0.01 * torch.randn(n, d, 2, 2)
    matched = damsm_word_loss(regions, words, wmask)
    shuffled = damsm_word_loss(regions[[1, 2, 3, 0]], words, wmask)
    assert matched < shuffled
    sent = torch.randn(n, d)
    assert damsm_sentence_loss(sent, sent) < damsm_sentence_loss(sent[[1, 2, 3, 0]], sent)
    # a single pair has no negatives; empty captions are left out
    assert damsm_word_loss(regions[:1], words[:1], wmask[:1]) == 0
    empty = wmask.clone()
    empty[1:] = False
    assert damsm_word_loss(regions, words, empty) == 0
    assert damsm_sentence_loss(sent, torch.zeros(n, d)) == 0
