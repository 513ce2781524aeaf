"""One ready job per chapter section: a network, a data set and settings that load in one click.

Each preset states what to look at and the quality it reaches (`expect`); tests/unit/test_presets.py
trains every preset as written, on one CPU core, and checks that claim. Specs are plain JSON-like data
(the same a user would submit), parsed into a JobSpec on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .base import Text
from .spec import JobSpec

Metric = Literal["test_accuracy", "test_loss", "best_test_accuracy"]


@dataclass(frozen=True)
class Expect:
    """The claim a preset makes: `metric` of the final summary is ≥ (or ≤) `threshold`."""

    metric: Metric
    threshold: float
    op: Literal[">=", "<="] = ">="

    def met(self, value: float | None) -> bool:
        if value is None:
            return False
        return value >= self.threshold if self.op == ">=" else value <= self.threshold

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "op": self.op, "threshold": self.threshold}


@dataclass(frozen=True)
class Preset:
    id: str
    section: str
    title: Text
    description: Text
    spec: dict[str, Any]
    expect: Expect

    def job_spec(self) -> JobSpec:
        return JobSpec.model_validate(self.spec)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "section": self.section,
            "title": self.title.to_json(),
            "description": self.description.to_json(),
            "expect": self.expect.to_json(),
            "spec": self.spec,
        }


# ---------------------------------------------------------------------------------------------- helpers


def n(node_id: str, layer: str, inputs: list[str] | None = None, /, **params: Any) -> dict[str, Any]:
    """One node; `inputs=None` means "the previous node" when used inside `chain`."""
    out: dict[str, Any] = {"id": node_id, "type": layer, "params": params}
    if inputs is not None:
        out["inputs"] = inputs
    return out


def chain(*nodes: dict[str, Any]) -> list[dict[str, Any]]:
    """Nodes in order; a node without explicit inputs reads the node before it."""
    out: list[dict[str, Any]] = []
    for i, node in enumerate(nodes):
        node = dict(node)
        if "inputs" not in node:
            node["inputs"] = [] if node["type"] == "input" or i == 0 else [out[-1]["id"]]
        out.append(node)
    return out


def job(name: str, nodes: list[dict[str, Any]], data: dict[str, Any], **train: Any) -> dict[str, Any]:
    return {"name": name, "model": {"nodes": nodes}, "data": data, "train": train}


def _dense_stack(prefix: str, width: int, depth: int, fn: str) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = []
    for i in range(1, depth + 1):
        layers += [n(f"{prefix}{i}", "dense", units=width), n(f"{fn}{i}", "activation", fn=fn)]
    return layers


def _deep(fn: str, init: str) -> dict[str, Any]:
    nodes = chain(n("x", "input", shape=[2]), *_dense_stack("dense", 16, 8, fn), n("out", "dense", units=2))
    return job(
        f"deep {fn} (8 hidden layers)", nodes, {"dataset": "circle", "noise": 0.1},
        optimizer={"name": "sgd", "lr": 0.1}, epochs=20, batch_size=16, init={"scheme": init}, seed=1,
    )


def _recurrent_sentiment(cell: str, bidirectional: bool, lr: float) -> dict[str, Any]:
    nodes = chain(
        n("x", "input", shape=[13], dtype="long"),
        n("embed", "embedding", num_embeddings=65, embedding_dim=16, padding_idx=0),
        n(cell, cell, hidden_size=32, bidirectional=bidirectional),
        n("out", "dense", units=2),
    )
    name = ("bidirectional " if bidirectional else "") + cell.upper() + " on sentiment with negation"
    return job(name, nodes, {"dataset": "sentiment"}, optimizer={"name": "adam", "lr": lr}, epochs=8,
               batch_size=32, clip_grad_norm=1.0)


def _seq2seq_attention() -> dict[str, Any]:
    nodes = [
        n("src", "input", [], shape=[10], dtype="long"),
        n("src_embed", "embedding", ["src"], num_embeddings=13, embedding_dim=16, padding_idx=0),
        n("encoder", "lstm", ["src_embed"], hidden_size=32, bidirectional=True, return_sequences=True),
        n("tgt_in", "input", [], shape=[11], dtype="long"),
        n("tgt_embed", "embedding", ["tgt_in"], num_embeddings=13, embedding_dim=16, padding_idx=0),
        n("decoder", "lstm", ["tgt_embed"], hidden_size=64, return_sequences=True),
        n("attention", "attention", ["decoder", "encoder"], kind="additive", attention_dim=32),
        n("merge", "concat", ["decoder", "attention"]),
        n("out", "dense", ["merge"], units=13),
    ]
    return job("encoder-decoder with attention: reverse a sequence", nodes, {"dataset": "reverse"},
               optimizer={"name": "adam", "lr": 0.01}, epochs=6, batch_size=32, clip_grad_norm=1.0,
               schedule={"name": "cosine"})


def _transformer_sentiment() -> dict[str, Any]:
    nodes = chain(
        n("x", "input", shape=[13], dtype="long"),
        n("embed", "embedding", num_embeddings=65, embedding_dim=32, padding_idx=0),
        n("position", "positional_encoding"),
        n("block1", "transformer_encoder_block", num_heads=2, ff_dim=64, dropout=0.1),
        n("flatten", "flatten"),
        n("out", "dense", units=2),
    )
    return job("Transformer encoder on sentiment", nodes, {"dataset": "sentiment", "n_samples": 4000},
               optimizer={"name": "adam", "lr": 0.003}, epochs=8, batch_size=32,
               schedule={"name": "linear_warmup", "warmup_steps": 50})


def _transformer_sort() -> dict[str, Any]:
    nodes = [
        n("src", "input", [], shape=[10], dtype="long"),
        n("src_embed", "embedding", ["src"], num_embeddings=13, embedding_dim=32, padding_idx=0),
        n("src_position", "positional_encoding", ["src_embed"]),
        n("encoder", "transformer_encoder_block", ["src_position"], num_heads=2, ff_dim=64, dropout=0.0),
        n("tgt_in", "input", [], shape=[11], dtype="long"),
        n("tgt_embed", "embedding", ["tgt_in"], num_embeddings=13, embedding_dim=32, padding_idx=0),
        n("tgt_position", "positional_encoding", ["tgt_embed"]),
        n("decoder", "transformer_decoder_block", ["tgt_position", "encoder"], num_heads=2, ff_dim=64, dropout=0.0),
        n("out", "dense", ["decoder"], units=13),
    ]
    return job("Transformer encoder-decoder: sort digits", nodes, {"dataset": "sort"},
               optimizer={"name": "adam", "lr": 0.003}, epochs=10, batch_size=32,
               schedule={"name": "linear_warmup", "warmup_steps": 50})


def _cnn_body() -> list[dict[str, Any]]:
    return [
        n("conv1", "conv2d", filters=8, kernel_size=3, padding=1),
        n("bn1", "batchnorm"),
        n("relu1", "activation", fn="relu"),
        n("pool1", "maxpool2d", kernel_size=2),
        n("conv2", "conv2d", filters=16, kernel_size=3, padding=1),
        n("bn2", "batchnorm"),
        n("relu2", "activation", fn="relu"),
        n("pool2", "maxpool2d", kernel_size=2),
        n("flatten", "flatten"),
    ]


def _fixed_filters() -> dict[str, Any]:
    nodes = [
        n("x", "input", [], shape=[1, 28, 28]),
        n("mean", "fixed_filter2d", ["x"], filter="mean"),
        n("edge_v", "fixed_filter2d", ["x"], filter="edge_vertical"),
        n("edge_h", "fixed_filter2d", ["x"], filter="edge_horizontal"),
        n("maps", "concat", ["mean", "edge_v", "edge_h"], axis=0),
        n("relu", "activation", ["maps"], fn="relu"),
        n("pool", "maxpool2d", ["relu"], kernel_size=2),
        n("flatten", "flatten", ["pool"]),
        n("out", "dense", ["flatten"], units=10),
    ]
    return job("the slide's fixed mean/edge filters + a linear classifier", nodes, {"dataset": "mnist5k"},
               optimizer={"name": "adam", "lr": 0.002}, epochs=4, batch_size=64)


def _transfer() -> dict[str, Any]:
    nodes = chain(
        n("x", "input", shape=[1, 28, 28]),
        n("conv1", "conv2d", filters=8, kernel_size=3, padding=1),
        n("relu1", "activation", fn="relu"),
        n("pool1", "maxpool2d", kernel_size=2),
        n("conv2", "conv2d", filters=16, kernel_size=3, padding=1),
        n("relu2", "activation", fn="relu"),
        n("pool2", "maxpool2d", kernel_size=2),
        n("flatten", "flatten"),
        n("out", "dense", units=10),
    )
    return job(
        "transfer learning: MNIST-5k → digits with 5 labels per class", nodes,
        {"dataset": "digits", "image_size": 20, "border": 4, "labels_per_class": 5},
        optimizer={"name": "adam", "lr": 0.003}, epochs=15, batch_size=16,
        pretrain={"data": {"dataset": "mnist5k"}, "epochs": 2, "freeze": ["conv1", "conv2"]},
    )


# ---------------------------------------------------------------------------------------------- presets

PRESETS: tuple[Preset, ...] = (
    Preset(
        "mlp_spiral", "9.2",
        Text("MLP on the spiral", "スパイラルを分ける多層パーセプトロン"),
        Text("Two ReLU hidden layers of 64 units learn to separate two interleaved spirals. Watch the decision "
             "boundary bend around the arms and the loss fall.",
             "64 ユニットの ReLU 中間層 2 つで、絡み合う 2 本のらせんを分ける。決定境界が腕に沿って曲がり、損失が"
             "下がる様子を見る。"),
        job("MLP on the spiral",
            chain(n("x", "input", shape=[2]), *_dense_stack("dense", 64, 2, "relu"), n("out", "dense", units=2)),
            {"dataset": "spiral"}, optimizer={"name": "adam", "lr": 0.01}, epochs=40, batch_size=16),
        Expect("test_accuracy", 0.95),
    ),
    Preset(
        "deep_sigmoid", "9.3.1",
        Text("Deep sigmoid net (vanishing gradients)", "深いシグモイドネット（勾配消失）"),
        Text("Eight sigmoid layers trained with plain SGD: the gradient shrinks by up to 4× per layer, the first "
             "layers hardly move and the loss stays flat. Compare the gradient flow with the ReLU preset.",
             "シグモイドを 8 層重ねて SGD で学習する。層ごとに勾配が最大 1/4 に縮み、入力側の層はほとんど動かず、"
             "損失は下がらない。ReLU のプリセットと勾配の流れを比べる。"),
        _deep("sigmoid", "xavier"),
        Expect("test_accuracy", 0.75, "<="),
    ),
    Preset(
        "deep_relu", "9.3.1",
        Text("Deep ReLU net", "深い ReLU ネット"),
        Text("The same eight layers with ReLU and He initialisation: gradients reach the first layer and the "
             "circle is learned — the chapter's remedy of better activation functions.",
             "同じ 8 層を ReLU と He の初期化にすると、勾配が入力側まで届き円が学習できる。"
             "活性化関数の工夫による解決。"),
        _deep("relu", "he"),
        Expect("test_accuracy", 0.9),
    ),
    Preset(
        "autoencoder_digits", "9.3.2",
        Text("Autoencoder with a 2-D bottleneck", "2 次元に圧縮するオートエンコーダ"),
        Text("The net learns to reproduce each 8×8 digit through just two units. Look at the reconstructions and "
             "at the 2-D codes of the bottleneck: do digits of one class land near each other, although no "
             "labels were used?",
             "8×8 の数字画像を 2 ユニットだけを通して復元するよう学習する（自己写像）。再構成画像と中間層の"
             "2 次元の符号を見る。ラベルを使っていないのに、同じ数字は近くに集まるだろうか。"),
        job("autoencoder on digits",
            chain(n("x", "input", shape=[64]), n("enc1", "dense", units=32), n("enc_relu", "activation", fn="relu"),
                  n("code", "dense", units=2), n("dec1", "dense", units=32), n("dec_relu", "activation", fn="relu"),
                  n("dec2", "dense", units=64), n("out", "activation", fn="sigmoid")),
            {"dataset": "digits", "flatten": True}, target="input",
            optimizer={"name": "adam", "lr": 0.01}, epochs=30, batch_size=32),
        Expect("test_loss", 0.045, "<="),
    ),
    Preset(
        "dropout_mlp", "9.3.3",
        Text("Dropout against over-fitting", "ドロップアウトで過学習を防ぐ"),
        Text("A wide MLP on the 8×8 digits with dropout p=0.5 after each hidden layer. Compare the train/test gap "
             "with p=0, and switch mode to the slide's rule (multiply by the keep rate at inference).",
             "8×8 の数字を幅の広い MLP で学習し、各中間層の後で p=0.5 のドロップアウトをかける。p=0 の時と学習・"
             "テストの差を比べる。mode を切り替えるとスライドの方式（認識時に重みを残す割合倍）になる。"),
        job("dropout MLP on digits",
            chain(n("x", "input", shape=[64]), n("dense1", "dense", units=256), n("relu1", "activation", fn="relu"),
                  n("drop1", "dropout", p=0.5), n("dense2", "dense", units=256),
                  n("relu2", "activation", fn="relu"), n("drop2", "dropout", p=0.5), n("out", "dense", units=10)),
            {"dataset": "digits", "flatten": True}, optimizer={"name": "adam", "lr": 0.002}, epochs=15,
            batch_size=32),
        Expect("test_accuracy", 0.95),
    ),
    Preset(
        "cnn_mnist", "9.4",
        Text("CNN on MNIST-5k", "MNIST-5k を識別する CNN"),
        Text("Convolution, batch normalisation, ReLU and max pooling twice, then a dense layer. Look at the "
             "learned 3×3 filters and the feature maps of each layer.",
             "畳み込み層・バッチ標準化層・ReLU・最大値プーリングを 2 回重ね、最後に全結合層。学習された 3×3 フィルタと"
             "各層の特徴マップを見る。"),
        job("CNN on MNIST-5k", chain(n("x", "input", shape=[1, 28, 28]), *_cnn_body(), n("out", "dense", units=10)),
            {"dataset": "mnist5k"}, optimizer={"name": "adam", "lr": 0.003}, epochs=4, batch_size=32,
            schedule={"name": "cosine"}),
        Expect("test_accuracy", 0.95),
    ),
    Preset(
        "fixed_filters", "9.4",
        Text("The slide's fixed filters", "スライドの固定フィルタ"),
        Text("The mean filter (all 1/9) and the vertical and horizontal edge filters are applied by hand, nothing "
             "in them is learned; only a linear classifier on their pooled maps is trained. Compare the maps "
             "with the filters a CNN learns.",
             "平均値フィルタ（すべて 1/9）と縦・横のエッジフィルタを固定で適用し、学習するのはプーリング後の線形識別器"
             "だけ。特徴マップを CNN が学習したフィルタと比べる。"),
        _fixed_filters(),
        Expect("test_accuracy", 0.88),
    ),
    Preset(
        "transfer_digits", "9.4",
        Text("Transfer learning with 5 labels per class", "1 クラス 5 枚で転移学習"),
        Text("A small CNN is first trained on MNIST-5k, then its convolution layers are frozen and only the last "
             "layer learns the sklearn digits (resized to 20×20 and framed to 28×28 like MNIST) from 5 examples per "
             "class. Set pretrain off to see how far the same 50 labels get from scratch.",
             "小さな CNN をまず MNIST-5k で学習し、畳み込み層を固定して最後の層だけを 1 クラス 5 枚の sklearn digits"
             "（MNIST と同じく 20×20 に拡大し 28×28 の枠に置く）で学習する。事前学習を外すと、同じ 50 枚で"
             "どこまで届くか比べられる。"),
        _transfer(),
        Expect("test_accuracy", 0.85),
    ),
    Preset(
        "rnn_sentiment", "9.5",
        Text("RNN on sentiment with negation", "否定を含む感情分類の RNN"),
        Text("An Elman RNN reads the sentence word by word and classifies its last state. Negation ('not good') "
             "flips the label, so word counts alone are not enough.",
             "RNN が単語を順に読み、最後の中間層出力で分類する。否定（not good）でラベルが反転するので、"
             "単語の出現だけでは解けない。"),
        _recurrent_sentiment("rnn", False, 0.005),
        Expect("test_accuracy", 0.85),
    ),
    Preset(
        "lstm_sentiment", "9.5",
        Text("LSTM on sentiment with negation", "否定を含む感情分類の LSTM"),
        Text("The same task with an LSTM: its gates (input, forget, output) decide what to keep, so 'not' can be "
             "remembered until the adjective arrives. Watch the gate activations.",
             "同じタスクを LSTM で。ゲート（入力・忘却・出力）が何を残すかを選ぶので、「not」を形容詞が来るまで覚えて"
             "おける。ゲートの値を見る。"),
        _recurrent_sentiment("lstm", False, 0.01),
        Expect("test_accuracy", 0.9),
    ),
    Preset(
        "gru_sentiment", "9.5",
        Text("GRU on sentiment with negation", "否定を含む感情分類の GRU"),
        Text("A GRU merges the LSTM's gates into update and reset gates: fewer parameters, similar accuracy.",
             "GRU は LSTM のゲートを更新ゲートとリセットゲートにまとめたもの。パラメータが少なく精度は同程度。"),
        _recurrent_sentiment("gru", False, 0.01),
        Expect("test_accuracy", 0.9),
    ),
    Preset(
        "birnn_sentiment", "9.5",
        Text("Bidirectional LSTM", "双方向 LSTM"),
        Text("One LSTM reads forwards, another backwards, and their final states are joined: each output uses the "
             "future of the sentence as well as its past.",
             "順方向と逆方向の LSTM の最終状態を結合する。過去だけでなく未来の情報も用いて出力を計算する。"),
        _recurrent_sentiment("lstm", True, 0.01),
        Expect("test_accuracy", 0.9),
    ),
    Preset(
        "seq2seq_attention", "9.5",
        Text("Encoder–decoder with attention: reversal", "アテンション付き Encoder-Decoder：逆順"),
        Text("A bidirectional LSTM encodes the digits, an LSTM decoder writes them in reverse order, attending to "
             "the encoder's states. The attention map turns into an anti-diagonal. Test accuracy is measured by "
             "greedy decoding, feeding the decoder its own outputs.",
             "双方向 LSTM が数字列を符号化し、LSTM の Decoder が Encoder の全中間層出力の重み付き和（アテンション）を"
             "見ながら逆順に出力する。アテンションの図が逆対角になる。テスト精度は自分の出力を次の入力にする"
             "貪欲復号で測る。"),
        _seq2seq_attention(),
        Expect("test_accuracy", 0.9),
    ),
    Preset(
        "transformer_sentiment", "9.5",
        Text("Transformer encoder on sentiment", "感情分類の Transformer エンコーダ"),
        Text("Embeddings plus positional encoding go through one self-attention + feed-forward block. Each word's "
             "new representation is built from its relation to the others: look at which words 'not' attends to.",
             "埋め込みと位置符号化を Self-attention + フィードフォワードのブロックに通す。各単語の表現を入力の"
             "他の部分との関係から作る。「not」がどの単語を見ているかを確かめる。"),
        _transformer_sentiment(),
        Expect("test_accuracy", 0.9),
    ),
    Preset(
        "transformer_sort", "9.5",
        Text("Transformer encoder–decoder: sorting", "Transformer の Encoder-Decoder：並べ替え"),
        Text("A Transformer encoder block reads the digits with self-attention; a decoder block with causal "
             "self-attention and cross-attention to the encoder writes them in sorted order. Look at the "
             "decoder's cross-attention map: which source digit does each output step read? Accuracy is measured "
             "by greedy decoding.",
             "Transformer のエンコーダブロックが Self-attention で数字列を読み、因果的 Self-attention とエンコーダへの"
             "クロスアテンションを持つデコーダブロックが小さい順に書き出す。クロスアテンションの図で、各出力"
             "ステップがどの入力の数字を見ているかを確かめる。精度は貪欲復号で測る。"),
        _transformer_sort(),
        Expect("test_accuracy", 0.9),
    ),
)

PRESETS_BY_ID: dict[str, Preset] = {p.id: p for p in PRESETS}
if len(PRESETS_BY_ID) != len(PRESETS):
    raise RuntimeError("preset ids must be unique")


def presets_json() -> list[dict[str, Any]]:
    """Every preset for GET /api/catalogue and the UI's preset picker."""
    return [p.to_json() for p in PRESETS]
