"""Data sets: signatures without data, generated tensors matching them, splits, knobs, targets, previews."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from layerlab.catalogue.datasets import DATASETS, DataSpec, catalogue_json, signature
from layerlab.catalogue.errors import SpecError
from layerlab.training import corpus, data, data_sequences, data_shipped, data_text, data_toys, dates, sentences, tokens
from layerlab.training.data import DatasetBundle, load_dataset
from layerlab.training.data_preview import preview

ALL = sorted(DATASETS)
DTYPES = {"float": torch.float32, "long": torch.int64}

# Non-default knobs per data set: every knob a set declares is exercised at least once.
KNOBS: dict[str, dict[str, Any]] = {
    "circle": {"n_samples": 120, "noise": 0.3, "label_noise": 0.1},
    "xor": {"n_samples": 101, "noise": 0.2},
    "gauss": {"n_samples": 60, "noise": 0.5, "labels_per_class": 10},
    "spiral": {"n_samples": 300, "noise": 0.1},
    "moons": {"n_samples": 80, "noise": 0.0},
    "plane": {"n_samples": 90, "noise": 0.4},
    "digits": {"image_size": 20, "border": 4, "labels_per_class": 5},
    "mnist5k": {"n_samples": 1000, "image_size": 14, "flatten": True, "label_noise": 0.2},
    "iris": {"n_samples": 100, "labels_per_class": 3},
    "wine": {"label_noise": 0.3},
    "breast_cancer": {"n_samples": 200},
    "diabetes": {"n_samples": 300},
    "copy": {"n_samples": 300, "seq_len": 20, "min_len": 5, "vocab_size": 26},
    "reverse": {"n_samples": 200, "seq_len": 6, "min_len": 6, "vocab_size": 4},
    "sort": {"n_samples": 200, "seq_len": 15, "min_len": 1, "vocab_size": 62},
    "addition": {"n_samples": 50, "digits": 1},
    "date_format": {"n_samples": 500},
    "chars": {"n_samples": 300, "seq_len": 128},
    "sentiment": {"n_samples": 400, "labels_per_class": 50},
    "long_dependency": {"n_samples": 200, "seq_len": 100, "vocab_size": 3},
}


def _spec(name: str, **knobs: Any) -> DataSpec:
    return DataSpec.model_validate({"dataset": name, **knobs})


def _assert_matches_signature(bundle: DatasetBundle) -> None:
    sig = signature(bundle.spec)
    assert sig == bundle.signature
    for split, n in ((bundle.train, sig.n_train), (bundle.test, sig.n_test)):
        assert set(split.inputs) == set(sig.fields)
        for name, shape in sig.fields.items():
            assert tuple(split.inputs[name].shape) == (n, *shape.dims), name
            assert split.inputs[name].dtype == DTYPES[shape.dtype], name
        assert tuple(split.target.shape) == (n, *sig.target.dims)
        assert split.target.dtype == DTYPES[sig.target.dtype]
        if sig.num_classes is not None:
            assert int(split.target.min()) >= 0 and int(split.target.max()) < sig.num_classes
        for t in (*split.inputs.values(), split.target):
            assert torch.isfinite(t.float()).all()


def _equal(a: DatasetBundle, b: DatasetBundle) -> bool:
    pairs = [(a.train.target, b.train.target), (a.test.target, b.test.target)]
    pairs += [(a.train.inputs[f], b.train.inputs[f]) for f in a.train.inputs]
    pairs += [(a.test.inputs[f], b.test.inputs[f]) for f in a.test.inputs]
    return all(x.shape == y.shape and torch.equal(x, y) for x, y in pairs)


@pytest.mark.parametrize("name", ALL)
def test_defaults_match_signature_and_are_deterministic(name: str) -> None:
    spec = _spec(name)
    first = load_dataset(spec)
    _assert_matches_signature(first)
    assert _equal(first, load_dataset(_spec(name)))
    assert not _equal(first, load_dataset(_spec(name, seed=1)))


@pytest.mark.parametrize("name", ALL)
def test_knobs_match_signature(name: str) -> None:
    knobs = KNOBS[name]
    bundle = load_dataset(_spec(name, test_fraction=0.3, seed=7, **knobs))
    _assert_matches_signature(bundle)
    per_class = knobs.get("labels_per_class")
    n = knobs.get("n_samples") or DATASETS[name].available or DATASETS[name].knobs["n_samples"]
    assert len(bundle.test) == round(n * 0.3)
    assert len(bundle.train) == (per_class * bundle.signature.num_classes if per_class else n - round(n * 0.3))


def test_every_knob_is_exercised() -> None:
    used = {knob for name in ALL for knob in KNOBS[name]}
    declared = {knob for name in ALL for knob in DATASETS[name].knobs}
    assert declared == used
    assert all(set(KNOBS[name]) <= set(DATASETS[name].knobs) for name in ALL)


def test_signature_needs_no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("signature generated data")

    for module, fn in [(data_toys, "generate"), (data_shipped, "images"), (data_shipped, "table"),
                       (data_shipped, "_mnist"), (data_sequences, "symbols"), (data_sequences, "addition"),
                       (data_sequences, "date_format"), (data_text, "chars"), (data_text, "sentiment"),
                       (data_text, "long_dependency"), (data_sequences, "unique_rows")]:
        monkeypatch.setattr(module, fn, refuse)
    for name in ALL:
        for spec in (_spec(name), _spec(name, **KNOBS[name])):
            assert signature(spec).n_train > 0
    assert json.dumps(catalogue_json())
    with pytest.raises(AssertionError):
        load_dataset(_spec("spiral"))


def _rows(t: torch.Tensor) -> set[bytes]:
    return {r.tobytes() for r in t.reshape(len(t), -1).numpy()}


@pytest.mark.parametrize("name", [n for n in ALL if n not in data.TABLES | data.IMAGES])
def test_generated_splits_are_disjoint(name: str) -> None:
    bundle = load_dataset(_spec(name, test_fraction=0.25))
    n = DATASETS[name].knobs["n_samples"]
    assert len(bundle.test) == round(n * 0.25) and len(bundle.train) == n - round(n * 0.25)
    field = "src" if "src" in bundle.train.inputs else "x"
    train, test = _rows(bundle.train.inputs[field]), _rows(bundle.test.inputs[field])
    if name != "chars":  # chars windows are disjoint in text position (tested below), not in content
        assert len(train) == len(bundle.train) and len(test) == len(bundle.test)
        assert not train & test


def _sorted_rows(a: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1)
    return a[np.lexsort(a.T[::-1])]


@pytest.mark.parametrize("name", sorted(data.IMAGES))
def test_image_splits_partition_the_shipped_set(name: str) -> None:
    bundle = load_dataset(_spec(name, test_fraction=0.1))
    raw, labels = data_shipped.images(name)
    assert len(bundle.test) == round(len(raw) * 0.1)
    both = torch.cat([bundle.train.inputs["x"], bundle.test.inputs["x"]]).numpy()
    both_labels = torch.cat([bundle.train.target, bundle.test.target]).numpy()
    assert np.array_equal(_sorted_rows(both), _sorted_rows(raw))
    assert np.array_equal(np.sort(both_labels), np.sort(labels))


@pytest.mark.parametrize("name", sorted(data.TABLES))
def test_tables_partition_and_use_train_statistics(name: str) -> None:
    bundle = load_dataset(_spec(name))
    raw, _ = data_shipped.table(name)
    z_train, z_test = bundle.train.inputs["x"].double(), bundle.test.inputs["x"].double()
    assert torch.allclose(z_train.mean(0), torch.zeros(raw.shape[1], dtype=torch.float64), atol=1e-5)
    assert torch.allclose(z_train.std(0, unbiased=False), torch.ones(raw.shape[1], dtype=torch.float64), atol=1e-4)
    assert z_test.mean(0).abs().max() > 1e-3  # test statistics were not used
    # Undo the per-feature affine map (fitted on sorted columns) and compare with the shipped rows.
    z = torch.cat([z_train, z_test]).numpy()
    raw64 = raw.astype(np.float64)
    restored = np.empty_like(z)
    for j in range(raw.shape[1]):
        scale, shift = np.polyfit(np.sort(z[:, j]), np.sort(raw64[:, j]), 1)
        restored[:, j] = z[:, j] * scale + shift
    assert np.allclose(_sorted_rows(restored), _sorted_rows(raw64), rtol=1e-4, atol=1e-4)


def test_chars_windows_come_from_disjoint_regions_and_predict_the_next_character() -> None:
    bundle = load_dataset(_spec("chars", seq_len=32, n_samples=200, test_fraction=0.2))
    text = corpus.text()
    boundary = len(text) - round(len(text) * 0.2)
    vocab = tokens.char_vocab()
    unk = vocab.id(tokens.UNK)
    for split, region in ((bundle.train, text[:boundary]), (bundle.test, text[boundary:])):
        x, y = split.inputs["x"], split.target
        assert torch.equal(x[:, 1:], y[:, :-1])
        for row, nxt in zip(x[:40], y[:40], strict=True):
            if unk in row.tolist() or unk in nxt.tolist():
                continue
            assert vocab.text(row.tolist()) + vocab.tokens[int(nxt[-1])] in region


def _decode(bundle: DatasetBundle, i: int, vocab: tokens.Vocab, split: str = "train") -> tuple[str, str, str]:
    s = getattr(bundle, split)
    return (vocab.text(s.inputs["src"][i].tolist()), vocab.text(s.target[i].tolist()),
            vocab.text(s.inputs["tgt_in"][i].tolist()))


@pytest.mark.parametrize("task", ["copy", "reverse", "sort"])
def test_symbol_task_targets(task: str) -> None:
    bundle = load_dataset(_spec(task, seq_len=12, min_len=3, vocab_size=20))
    vocab = tokens.symbol_vocab(20)
    expect = {"copy": lambda s: s, "reverse": lambda s: s[::-1], "sort": lambda s: "".join(sorted(s))}[task]
    lengths = set()
    for split in ("train", "test"):
        s = getattr(bundle, split)
        for i in range(len(s)):
            source, target, tgt_in = _decode(bundle, i, vocab, split)
            assert 3 <= len(source) <= 12 and target == expect(source) and tgt_in == target
            lengths.add(len(source))
        assert (s.inputs["tgt_in"][:, 0] == tokens.BOS_ID).all()
        # tgt_out ends with <eos> right after the target; tgt_in is tgt_out shifted right.
        n_tokens = (s.target != tokens.PAD_ID).sum(1)
        assert (s.target.gather(1, (n_tokens - 1)[:, None]).squeeze(1) == tokens.EOS_ID).all()
        assert torch.equal(s.inputs["tgt_in"][:, 1:][s.target[:, :-1] != tokens.EOS_ID],
                           s.target[:, :-1][s.target[:, :-1] != tokens.EOS_ID])
    assert lengths == set(range(3, 13))


def test_addition_targets() -> None:
    bundle = load_dataset(_spec("addition", digits=4, n_samples=400))
    vocab = tokens.addition_vocab()
    digit_counts = set()
    for i in range(len(bundle.train)):
        source, target, _ = _decode(bundle, i, vocab)
        a, b = source.split("+")
        assert int(target) == int(a) + int(b) and str(int(a)) == a
        digit_counts.add(len(a))
    assert digit_counts == {1, 2, 3, 4}


def test_date_targets() -> None:
    bundle = load_dataset(_spec("date_format", n_samples=600))
    vocab = tokens.date_vocab()
    used_formats = set()
    for i in range(len(bundle.train)):
        source, target, _ = _decode(bundle, i, vocab)
        day = dt.date.fromisoformat(target)
        assert dates.FIRST_DAY <= day <= dates.LAST_DAY
        rendered = [f(day) for f in dates.FORMATS]
        assert source in rendered
        used_formats.add(rendered.index(source))
    assert used_formats == set(range(len(dates.FORMATS)))


def _sentiment_rule(words: list[str]) -> int:
    """Independent restatement: the clause after "but" decides; a negation flips the polar word."""
    if "but" in words:
        words = words[words.index("but") + 1:]
    liked_verbs = {w for past, base, liked in sentences.VERBS if liked for w in (past, base)}
    positive_words = set(sentences.POSITIVE) | liked_verbs
    negated = "not" in words or "never" in words
    polar = [w for w in words if w in positive_words or w in sentences.NEGATIVE
             or any(w in (p, b) for p, b, _ in sentences.VERBS)]
    assert len(polar) == 1, words
    return int((polar[0] in positive_words) != negated)


def test_sentiment_labels_follow_negation() -> None:
    bundle = load_dataset(_spec("sentiment"))
    vocab = tokens.Vocab(bundle.signature.vocab)
    texts = []
    for i in range(len(bundle.train)):
        words = vocab.decode(bundle.train.inputs["x"][i].tolist())
        assert int(bundle.train.target[i]) == _sentiment_rule(words)
        texts.append(" ".join(words))
    assert any(" but " in t for t in texts) and any(t.startswith("not ") for t in texts)
    assert any("did not" in t for t in texts) and any("never" in t for t in texts)
    counts = torch.bincount(bundle.train.target, minlength=2)
    assert counts.min() > 0.4 * len(bundle.train)


def test_long_dependency_label_is_the_first_token() -> None:
    bundle = load_dataset(_spec("long_dependency", seq_len=60, vocab_size=5))
    vocab = tokens.Vocab(bundle.signature.vocab)
    x, y = bundle.train.inputs["x"], bundle.train.target
    assert [vocab.tokens[int(t)] for t in x[:, 0]] == [("A", "B")[int(v)] for v in y]
    assert set(vocab.tokens[int(t)] for t in x[:, 1:].unique()) == {f"d{i}" for i in range(5)}


def test_mnist5k() -> None:
    bundle = load_dataset(_spec("mnist5k"))
    x = torch.cat([bundle.train.inputs["x"], bundle.test.inputs["x"]])
    y = torch.cat([bundle.train.target, bundle.test.target])
    assert x.shape == (5000, 1, 28, 28) and float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert torch.bincount(y).tolist() == [500] * 10
    # A digit is a stroke in the middle on a dark background: the border is darker than the centre.
    assert x[:, 0, :3].mean() < 0.01 < x[:, 0, 10:18, 10:18].mean()


def test_labels_per_class_is_exact_and_keeps_the_split() -> None:
    few = load_dataset(_spec("digits", image_size=28, labels_per_class=7, seed=3))
    full = load_dataset(_spec("digits", image_size=28, seed=3))
    assert torch.bincount(few.train.target).tolist() == [7] * 10
    assert torch.equal(few.test.inputs["x"], full.test.inputs["x"])
    assert _rows(few.train.inputs["x"]) <= _rows(full.train.inputs["x"])
    assert few.train.inputs["x"].shape[1:] == (1, 28, 28)
    assert 0.0 <= float(few.train.inputs["x"].min()) and float(few.train.inputs["x"].max()) <= 1.0


def test_label_noise_corrupts_exactly_that_share_of_training_labels() -> None:
    clean = load_dataset(_spec("moons", n_samples=1000))
    noisy = load_dataset(_spec("moons", n_samples=1000, label_noise=0.25))
    assert torch.equal(clean.train.inputs["x"], noisy.train.inputs["x"])
    assert torch.equal(clean.test.target, noisy.test.target)
    assert int((clean.train.target != noisy.train.target).sum()) == round(0.25 * 800)


def test_border_frames_resized_digits_like_mnist() -> None:
    framed = load_dataset(_spec("digits", image_size=20, border=4)).train.inputs["x"]
    assert framed.shape[1:] == (1, 28, 28)
    inner = framed[:, :, 4:24, 4:24]
    assert float(framed.abs().sum()) == float(inner.abs().sum()) and float(inner.max()) > 0.9


def test_resize_and_flatten() -> None:
    small = load_dataset(_spec("mnist5k", n_samples=100, image_size=8, flatten=True))
    native = load_dataset(_spec("mnist5k", n_samples=100))
    assert small.train.inputs["x"].shape == (80, 64)
    assert torch.equal(small.train.target, native.train.target)
    pooled = torch.nn.functional.avg_pool2d(native.train.inputs["x"][:, :, 2:26, 2:26], 3).reshape(80, 64)
    assert torch.corrcoef(torch.stack([pooled.flatten(), small.train.inputs["x"].flatten()]))[0, 1] > 0.8


def test_spiral_is_learnable_by_a_small_mlp() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    bundle = load_dataset(_spec("spiral"))
    net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 2))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    x, y = bundle.train.inputs["x"], bundle.train.target
    for _ in range(400):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = (net(bundle.test.inputs["x"]).argmax(1) == bundle.test.target).float().mean().item()
    assert accuracy >= 0.95
    assert float(x.abs().max()) <= 1.0


@pytest.mark.parametrize("name", ALL)
def test_preview_is_small_and_json(name: str) -> None:
    p = preview(_spec(name))
    text = json.dumps(p)
    assert len(text) < 60_000
    assert p["dataset"] == name
    limits = {"points": ("points", 300), "images": ("images", 16), "table": ("rows", 8), "pairs": ("pairs", 8),
              "texts": ("texts", 8)}
    key, most = limits[p["kind"]]
    assert 0 < len(p[key]) <= most
    if p["kind"] == "images":
        pixels = np.array(p["images"])
        assert pixels.dtype.kind == "i" and pixels.min() >= 0 and pixels.max() <= 255
    if p["kind"] == "points":
        assert all(len(pt) == 3 for pt in p["points"])


def test_preview_caps_points() -> None:
    assert len(preview(_spec("circle", n_samples=2000))["points"]) == 300


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"dataset": "iris", "n_samples": "100"}, "valid integer"),
        ({"dataset": "spiral", "noise": "0.1"}, "valid number"),
        ({"dataset": "spiral", "colour": "red"}, "Extra inputs"),
        ({"dataset": "mnist"}, "Input should be"),
        ({"dataset": "iris", "seq_len": 10}, "seq_len does not apply to data set 'iris'"),
        ({"dataset": "plane", "labels_per_class": 5}, "labels_per_class does not apply"),
        ({"dataset": "spiral", "noise": 2.0}, "less than or equal to 1"),
        ({"dataset": "copy", "seq_len": 10, "min_len": 11}, "min_len (11) must not exceed seq_len (10)"),
        ({"dataset": "copy", "seq_len": 512}, "capped at 512"),
        ({"dataset": "copy", "seq_len": 500, "n_samples": 60_000}, "exceeds the 32,000,000 a data set may hold"),
        ({"dataset": "iris", "n_samples": 151}, "exceeds the 150 samples"),
        ({"dataset": "addition", "digits": 1}, "exceeds half of the 100 distinct samples"),
        ({"dataset": "digits", "labels_per_class": 150}, "exceeds the 1438 training samples"),
        ({"dataset": "chars", "seq_len": 512, "test_fraction": 0.001}, "fewer than seq_len + 1"),
        ({"dataset": "spiral", "test_fraction": 0.95}, "less than 0.9"),
        ({"dataset": "spiral", "seed": -1}, "greater than or equal to 0"),
    ],
)
def test_bad_specs_are_refused_with_a_readable_message(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DataSpec.model_validate_json(json.dumps(body))
    assert fragment in str(caught.value)


def test_json_round_trip_and_unused_defaults() -> None:
    spec = _spec("reverse", seq_len=8)
    again = DataSpec.model_validate_json(spec.model_dump_json())
    assert again == spec and signature(again) == signature(spec)
    assert signature(spec).fields["src"].dims == (8,)
    assert DataSpec.model_validate({"dataset": "iris", "seq_len": None}).seq_len is None


def test_labels_per_class_shortfall_is_a_spec_error() -> None:
    spec = _spec("wine", labels_per_class=40)  # 3 × 40 ≤ 142 training samples, but one class has fewer than 40
    with pytest.raises(SpecError) as caught:
        load_dataset(spec)
    assert caught.value.loc == ["data", "labels_per_class"]
