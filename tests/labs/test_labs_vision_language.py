"""The 9.4/9.5 labs at "quick" scale: each trains real models and must reproduce the chapter's claim on the
numbers it measured (seed 0), and stream the tensors its views draw."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from layerlab.catalogue.labs import LABS, LabParams
from layerlab.labs import registry
from layerlab.labs.base import LabOutcome, LabStopped, RecordingContext

OURS = ("cnn_filters", "pooling_batchnorm", "transfer_learning", "rnn_vs_lstm", "bidirectional_rnn",
        "seq2seq_attention", "transformer_heads", "bert_attention")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(lab_id: str, text: str | None = None) -> tuple[LabOutcome, RecordingContext]:
    ctx = RecordingContext()
    outcome = registry.runner_for(lab_id)(LabParams(scale="quick", seed=0, text=text), ctx)
    return outcome, ctx


def tensors(ctx: RecordingContext, kind: str) -> list[tuple[str, np.ndarray, dict[str, Any]]]:
    return [(node, array, meta) for (k, node, array, _), meta in zip(ctx.tensors, ctx.metas, strict=True)
            if k == kind]


def curves(ctx: RecordingContext) -> set[str]:
    """Variants that streamed at least one training step and one test evaluation."""
    steps = {e["variant"] for e in ctx.events if e.get("kind") == "step"}
    evals = {e["variant"] for e in ctx.events if e.get("kind") == "eval" and e.get("split") == "test"}
    return steps & evals


def test_declarations_have_runners_and_both_languages() -> None:
    for lab_id in OURS:
        decl = LABS[lab_id]
        assert decl.section in ("9.4", "9.5")
        for text in (decl.title, decl.claim, decl.look_for):
            assert text.en.strip() and text.ja.strip()
        assert registry.runner_for(lab_id) is not None
    assert registry.missing_runners() == []


def test_a_cancelled_lab_stops_before_training() -> None:
    ctx = RecordingContext(stop=lambda: True)
    with pytest.raises(LabStopped):
        registry.runner_for("bidirectional_rnn")(LabParams(scale="quick"), ctx)
    assert not [e for e in ctx.events if e.get("kind") == "step"]


def test_shifted_digits_move_with_a_black_border() -> None:
    from layerlab.labs.pooling import shift

    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, 2, 2], image[0, 0, 0, 4] = 1.0, 2.0
    moved = shift(image, 1, -2)  # one pixel right, two up
    assert moved.shape == image.shape
    assert moved[0, 0, 0, 3] == 1.0 and moved.sum() == 1.0  # the corner pixel left the frame


@pytest.mark.slow
def test_cnn_filters_beat_raw_pixels() -> None:
    outcome, ctx = run("cnn_filters")
    acc = outcome.measurements["test_accuracy"]
    assert acc["fixed"] > acc["pixels"] and acc["learned"] > acc["pixels"], acc
    assert outcome.claim_holds
    assert curves(ctx) == {"fixed", "learned", "pixels"}
    maps = {node: array.shape for node, array, _ in tensors(ctx, "feature_maps")}
    assert maps == {"input": (1, 28, 28), "fixed": (3, 28, 28), "learned": (3, 28, 28)}
    filters = {node: array for node, array, _ in tensors(ctx, "filters")}
    assert filters["learned"].shape == filters["fixed"].shape == (3, 1, 3, 3)
    assert np.allclose(filters["fixed"][1, 0], [[-1, 0, 1]] * 3)  # the slide's vertical edge filter
    assert all(0 <= m["abs_cosine"] <= 1 for m in outcome.measurements["learned_filter_matches"])


@pytest.mark.slow
def test_pooling_absorbs_shifts_and_batchnorm_speeds_up_training() -> None:
    outcome, ctx = run("pooling_batchnorm")
    v = outcome.measurements["variants"]
    assert v["cnn"]["retained"] > v["no_pool"]["retained"], v
    assert v["cnn"]["shift_2px_accuracy"] < v["cnn"]["test_accuracy"]  # a 2-pixel shift does cost accuracy
    assert v["cnn"]["first_epoch_loss"] < v["no_batchnorm"]["first_epoch_loss"], v
    assert outcome.claim_holds
    points = {(e["variant"], e["x"]) for e in ctx.events if e.get("kind") == "summary_point"}
    assert points == {(name, px) for name in v for px in (0, 1, 2)}


@pytest.mark.slow
def test_fine_tuned_beats_from_scratch_at_5_labels_per_class() -> None:
    outcome, ctx = run("transfer_learning")
    five = outcome.measurements["5_per_class"]
    assert five["fine_tuned"] > five["scratch"], five
    assert outcome.measurements["pretrain_test_accuracy"] > 0.85
    assert outcome.claim_holds
    assert {"pretrain", "frozen/5", "fine_tuned/5", "scratch/5"} <= curves(ctx)


@pytest.mark.slow
def test_lstm_keeps_the_first_token_where_the_rnn_falls_to_chance() -> None:
    outcome, _ = run("rnn_vs_lstm")
    acc, grad = outcome.measurements["test_accuracy"], outcome.measurements["first_token_gradient"]
    assert acc["rnn"]["10"] >= 0.9, acc  # the RNN can learn the task when it is short
    assert acc["rnn"]["100"] < 0.65, acc  # ... and stays near chance (0.5) when it is long
    assert acc["lstm"]["100"] >= 0.9, acc
    assert grad["rnn"]["100"] < 1e-6 < grad["lstm"]["100"], grad  # vanishing gradient at initialisation
    assert outcome.claim_holds


@pytest.mark.slow
def test_bidirectional_rnn_uses_the_next_token() -> None:
    outcome, ctx = run("bidirectional_rnn")
    acc, bound = outcome.measurements["test_accuracy"], outcome.measurements["past_only_bound"]
    assert 0.6 < bound < 0.9
    assert acc["one_direction"] <= bound + 0.03, (acc, bound)
    assert acc["bidirectional"] >= 0.95, acc
    assert outcome.claim_holds
    assert curves(ctx) == {"one_direction", "bidirectional"}


@pytest.mark.slow
def test_attention_wins_on_long_sequences_with_an_antidiagonal_alignment() -> None:
    outcome, ctx = run("seq2seq_attention")
    long_acc = outcome.measurements["long_accuracy"]
    assert long_acc["attention"] - long_acc["no_attention"] >= 0.15, long_acc
    by_length = outcome.measurements["accuracy_by_length"]["no_attention"]
    assert by_length["2"] > by_length["12"] + 0.3  # without attention, accuracy falls with length
    assert outcome.measurements["antidiagonal_weight"] >= 0.6
    assert outcome.claim_holds
    ((node, alignment, meta),) = tensors(ctx, "alignment")
    assert alignment.shape == (len(meta["queries"]), len(meta["keys"]))
    assert np.allclose(alignment.sum(axis=1), 1, atol=1e-5)


@pytest.mark.slow
def test_transformer_heads_specialise_on_left_and_right_neighbours() -> None:
    outcome, ctx = run("transformer_heads")
    m = outcome.measurements
    assert m["test_accuracy"] >= 0.9
    assert m["left_head"] != m["right_head"]
    assert m["offset_attention"][m["left_head"]]["-1"] >= 0.4
    assert m["offset_attention"][m["right_head"]]["1"] >= 0.4
    assert outcome.claim_holds
    frames = tensors(ctx, "attention")
    assert [meta["epoch"] for _, _, meta in frames] == list(range(1, 6))  # one frame per epoch
    for _, maps, _ in frames:
        assert maps.shape == (2, 10, 10) and np.allclose(maps.sum(axis=-1), 1, atol=1e-5)


@pytest.mark.slow
def test_bert_attention_rows_sum_to_one_and_pretrained_embeddings_win() -> None:
    outcome, ctx = run("bert_attention", text="Attention lets every word look at every other word.")
    frames = tensors(ctx, "attention")
    assert [node for node, _, _ in frames] == [f"layer{i}" for i in range(1, 7)]
    tokens = outcome.measurements["tokens"]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "attention" in tokens
    for _, maps, meta in frames:
        assert maps.shape == (12, len(tokens), len(tokens)) and meta["queries"] == tokens
        assert np.allclose(maps.sum(axis=-1), 1, atol=1e-4)
    acc = outcome.measurements["test_accuracy"]
    assert acc["pretrained"] - acc["random_weights"] >= 0.15, acc
    assert outcome.claim_holds
    assert curves(ctx) == {"pretrained", "random_weights"}
