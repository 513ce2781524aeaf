"""The labs of chapter 9.3 and of the theory/practice slides, at "quick" scale: real training, fixed seeds,
and the chapter's qualitative claim checked on the numbers each lab measured (not only its own verdict).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from layerlab.catalogue.labs import LABS, LabParams
from layerlab.catalogue.labs import theory as theory_decls
from layerlab.labs.base import LabOutcome, LabStopped, RecordingContext
from layerlab.labs.registry import missing_runners, runner_for

torch.set_num_threads(1)
pytestmark = pytest.mark.slow

THEORY_LABS = [lab_id for lab_id, decl in LABS.items() if decl.section in ("9.3.1", "9.3.2", "9.3.3", "gap")]
_RUNS: dict[str, tuple[LabOutcome, RecordingContext, float]] = {}


def run(lab_id: str) -> tuple[LabOutcome, RecordingContext]:
    """Run a lab once per test session (several tests read the same run)."""
    if lab_id not in _RUNS:
        ctx = RecordingContext()
        started = time.process_time()
        outcome = runner_for(lab_id)(LabParams(scale="quick", seed=0), ctx)
        _RUNS[lab_id] = (outcome, ctx, time.process_time() - started)
    outcome, ctx, _ = _RUNS[lab_id]
    return outcome, ctx


def curves(ctx: RecordingContext) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for event in ctx.events:
        if event["type"] == "metrics" and "step" in event:
            out.setdefault(event["variant"], []).append(event)
    return out


def test_every_theory_lab_is_declared_with_a_runner() -> None:
    assert theory_decls is not None
    assert set(THEORY_LABS) == {"vanishing_gradients", "activations", "optimizer_race", "dropout", "pretraining",
                                "autoencoder", "depth_vs_width", "lottery_ticket", "loss_flatness",
                                "double_descent", "overparameterisation"}
    assert missing_runners() == []
    for lab_id in THEORY_LABS:
        decl = LABS[lab_id].to_json()
        assert decl["title"]["en"] and decl["title"]["ja"] and decl["claim"]["ja"] and decl["look_for"]["ja"]


@pytest.fixture(params=THEORY_LABS)
def lab(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


def test_outcome_is_json_with_a_bilingual_verdict_that_quotes_the_numbers(lab: str) -> None:
    outcome, ctx = run(lab)
    body = json.loads(json.dumps(outcome.to_json()))
    assert body["claim_holds"] is True, body["verdict"]["en"]
    assert any(ch.isdigit() for ch in body["verdict"]["en"]) and any(ch.isdigit() for ch in body["verdict"]["ja"])
    assert ctx.events, "the lab streamed nothing"
    for kind, _node, array, _step in ctx.tensors:
        assert isinstance(array, np.ndarray) and np.isfinite(array).all(), kind


def test_vanishing_gradients_shrink_through_sigmoid_layers_not_relu() -> None:
    m = run("vanishing_gradients")[0].measurements
    sig, relu = m["sigmoid"]["grad_norms"], m["relu"]["grad_norms"]
    assert sig[0] < 0.01 * sig[-1]  # first layer ≪ last layer
    assert all(a < b for a, b in zip(sig, sig[1:], strict=False))  # shrinking all the way back
    assert relu[0] > 0.1 * relu[-1]
    assert m["relu"]["train_loss"] < 0.5 * m["sigmoid"]["train_loss"]


def test_recommended_activations_train_the_deep_net_sigmoid_does_not() -> None:
    outcome, ctx = run("activations")
    results = outcome.measurements["results"]
    assert results["sigmoid"]["train_loss"] > 2.0  # ≈ ln 10: chance
    for act in ("relu", "tanh", "leaky_relu", "elu", "gelu"):
        assert results[act]["train_loss"] < 0.5, act
        assert results[act]["test_accuracy"] > 0.8, act
    assert set(curves(ctx)) == set(results)


def test_optimizer_race_shares_start_and_batches_and_adaptive_methods_win() -> None:
    outcome, ctx = run("optimizer_race")
    net, surface = outcome.measurements["network"], outcome.measurements["rosenbrock"]
    for name in ("momentum", "adagrad", "rmsprop", "adam"):
        assert net[name]["train_loss"] < net["sgd"]["train_loss"], name
        assert surface[name]["distance_to_minimum"] < surface["sgd"]["distance_to_minimum"], name
    first = {v: pts[0] for v, pts in curves(ctx).items() if pts[0]["kind"] == "step"}
    losses = {round(p["loss"], 5) for p in first.values()}
    assert len(first) == 5 and len(losses) == 1  # same initial weights and the same first batch
    kinds = {t[0] for t in ctx.tensors}
    assert {"landscape", "paths"} <= kinds
    path = [t for t in ctx.tensors if t[0] == "paths" and t[1] == "adam"][-1][2]
    assert path.shape[1] == 2 and path[0].tolist() == pytest.approx(outcome.measurements["start"])


def test_dropout_shrinks_the_gap_and_both_modes_agree() -> None:
    r = run("dropout")[0].measurements["results"]
    assert r["inverted"]["gap"] < r["none"]["gap"] and r["scale_at_inference"]["gap"] < r["none"]["gap"]
    assert r["inverted"]["test_accuracy"] > r["none"]["test_accuracy"]
    assert abs(r["inverted"]["test_accuracy"] - r["scale_at_inference"]["test_accuracy"]) <= 0.03


def test_pretraining_beats_random_initialisation_on_few_labels() -> None:
    m = run("pretraining")[0].measurements
    assert m["pretrained_test_accuracy"] >= m["random_test_accuracy"] + 0.03
    assert all(0 < loss < 0.05 for loss in m["reconstruction_loss"])


def test_autoencoder_bottleneck_keeps_information_and_sorts_digits() -> None:
    outcome, ctx = run("autoencoder")
    m = outcome.measurements
    explained = dict(zip(m["bottlenecks"], m["variance_explained"], strict=True))
    assert explained[2] < explained[8] < explained[32] and explained[8] > 0.6
    assert m["latent_knn_accuracy"] > 0.5
    recon = [t for t in ctx.tensors if t[0] == "reconstructions"]
    latent = [t for t in ctx.tensors if t[0] == "latent_map"]
    assert recon and recon[-1][2].shape == (2, 8, 8, 8)
    assert latent and latent[-1][2].shape[1] == 3


def test_depth_beats_width_on_the_jump_only() -> None:
    outcome, ctx = run("depth_vs_width")
    m = outcome.measurements
    assert abs(m["deep_params"] - m["shallow_params"]) <= 2
    mse = m["median_test_mse"]
    assert mse["deep"]["jump"] < 0.8 * mse["shallow"]["jump"]
    assert mse["deep"]["smooth"] >= 0.8 * mse["shallow"]["smooth"]
    assert any(t[0] == "function_fit" for t in ctx.tensors)


def test_lottery_ticket_at_80_percent_sparsity() -> None:
    m = run("lottery_ticket")[0].measurements
    assert m["final_sparsity"] == pytest.approx(0.8, abs=0.01)
    assert m["ticket_test_accuracy"] >= m["dense_test_accuracy"] - 0.03
    assert m["ticket_test_accuracy"] - m["reinit_test_accuracy"] >= 0.01
    sparsities = [r["sparsity"] for r in m["rounds"]]
    assert sparsities == sorted(sparsities) and len(sparsities) == 4


def test_small_batch_solution_is_flatter() -> None:
    outcome, ctx = run("loss_flatness")
    r = outcome.measurements["results"]
    small, large = r["small_batch"], r["large_batch"]
    assert small["sharpness"] < large["sharpness"]
    assert small["test_accuracy"] >= large["test_accuracy"] - 0.01
    for res in (small, large):
        profile = res["profile"]
        centre = len(profile) // 2
        assert profile[0] > profile[centre] and profile[-1] > profile[centre]  # a basin around the solution
    surfaces = [t for t in ctx.tensors if t[0] == "landscape"]
    assert len(surfaces) == 2 and surfaces[0][2].ndim == 2


def test_double_descent_peaks_at_the_interpolation_threshold() -> None:
    m = run("double_descent")[0].measurements
    errors, widths, n = m["test_error"], m["widths"], m["threshold"]
    peak = errors.index(max(errors))
    assert n / 2 <= widths[peak] <= 2 * n
    assert min(errors[:peak]) < errors[peak] - 0.1 and errors[-1] < errors[peak] - 0.1


def test_wide_networks_drive_training_loss_to_about_zero() -> None:
    m = run("overparameterisation")[0].measurements
    losses = m["train_loss"]
    assert losses[-1] < 0.02 and losses[0] > 0.5
    assert m["train_accuracy"][-1] == 1.0


def test_a_cancelled_lab_stops_between_steps() -> None:
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 20

    ctx = RecordingContext(stop=stop)
    started = time.monotonic()
    with pytest.raises(LabStopped):
        runner_for("overparameterisation")(LabParams(scale="quick"), ctx)
    assert time.monotonic() - started < 30


def test_the_quick_suite_fits_its_budget() -> None:
    for lab_id in THEORY_LABS:
        run(lab_id)
    cpu = {lab_id: round(_RUNS[lab_id][2], 1) for lab_id in THEORY_LABS}
    assert sum(cpu.values()) < 150, cpu
