"""Model specs shared by the graph tests (build, validate, export): plain JSON-like dicts, as a client sends."""

from __future__ import annotations

from typing import Any

VOCAB = 13  # copy / reverse / sort with default knobs: src [10], tgt_in [11], 13 tokens


def node(id: str, type: str, inputs: list[str] | None = None, **params: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "params": params, "inputs": inputs or []}


def model(*nodes: dict[str, Any], outputs: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"nodes": list(nodes)}
    if outputs is not None:
        body["outputs"] = outputs
    return body


def mlp(hidden: int = 16, classes: int = 2, features: int = 2) -> dict[str, Any]:
    return model(node("x", "input", shape=[features]), node("h1", "dense", ["x"], units=hidden),
                 node("act1", "activation", ["h1"], fn="relu"), node("h2", "dense", ["act1"], units=hidden),
                 node("act2", "activation", ["h2"], fn="tanh"), node("out", "dense", ["act2"], units=classes))


def residual_mlp() -> dict[str, Any]:
    return model(node("x", "input", shape=[2]), node("h", "dense", ["x"], units=16),
                 node("f", "dense", ["h"], units=16), node("g", "activation", ["f"], fn="relu"),
                 node("res", "add", ["h", "g"]), node("out", "dense", ["res"], units=2))


def branches() -> dict[str, Any]:
    return model(node("x", "input", shape=[2]), node("a", "dense", ["x"], units=8),
                 node("b", "dense", ["x"], units=5), node("b_act", "activation", ["b"], fn="sigmoid"),
                 node("cat", "concat", ["a", "b_act"]), node("out", "dense", ["cat"], units=2))


def cnn(side: int = 28, classes: int = 10) -> dict[str, Any]:
    return model(node("x", "input", shape=[1, side, side]), node("conv1", "conv2d", ["x"], filters=8),
                 node("bn1", "batchnorm", ["conv1"]), node("relu1", "activation", ["bn1"], fn="relu"),
                 node("pool1", "maxpool2d", ["relu1"]), node("edges", "fixed_filter2d", ["pool1"]),
                 node("conv2", "conv2d", ["edges"], filters=16, stride=2), node("pool2", "avgpool2d", ["conv2"]),
                 node("flat", "flatten", ["pool2"]), node("drop", "dropout", ["flat"], p=0.2),
                 node("out", "dense", ["drop"], units=classes))


def seq2seq_attention(kind: str = "additive", hidden: int = 32) -> dict[str, Any]:
    """Luong-style encoder–decoder: the decoder LSTM's states attend to the encoder's states."""
    return model(
        node("src", "input", shape=[10], dtype="long"),
        node("src_emb", "embedding", ["src"], num_embeddings=VOCAB, embedding_dim=16),
        node("encoder", "lstm", ["src_emb"], hidden_size=hidden, return_sequences=True),
        node("tgt_in", "input", shape=[11], dtype="long"),
        node("tgt_emb", "embedding", ["tgt_in"], num_embeddings=VOCAB, embedding_dim=16),
        node("decoder", "lstm", ["tgt_emb"], hidden_size=hidden, return_sequences=True),
        node("attn", "attention", ["decoder", "encoder"], kind=kind),
        node("joined", "concat", ["decoder", "attn"]),
        node("logits", "dense", ["joined"], units=VOCAB),
    )


def autoencoder() -> dict[str, Any]:
    """digits [1,8,8] → flatten → 32 → 2 (bottleneck) → 32 → 64 → reshape back to [1,8,8]."""
    return model(node("x", "input", shape=[1, 8, 8]), node("flat", "flatten", ["x"]),
                 node("enc1", "dense", ["flat"], units=32), node("enc1_act", "activation", ["enc1"], fn="relu"),
                 node("code", "dense", ["enc1_act"], units=2), node("dec1", "dense", ["code"], units=32),
                 node("dec1_act", "activation", ["dec1"], fn="relu"), node("dec2", "dense", ["dec1_act"], units=64),
                 node("recon", "reshape", ["dec2"], shape=[1, 8, 8]))


def transformer(blocks: int = 2, seq: int = 13, vocab: int = 32, d: int = 16, classes: int = 2) -> dict[str, Any]:
    """Token ids → embedding → positional encoding → encoder blocks → flatten → classifier."""
    nodes = [node("x", "input", shape=[seq], dtype="long"),
             node("emb", "embedding", ["x"], num_embeddings=vocab, embedding_dim=d),
             node("pos", "positional_encoding", ["emb"])]
    prev = "pos"
    for i in range(blocks):
        nodes.append(node(f"block{i + 1}", "transformer_encoder_block", [prev], num_heads=2, ff_dim=32, dropout=0.0))
        prev = f"block{i + 1}"
    nodes += [node("norm", "layernorm", [prev]), node("flat", "flatten", ["norm"]),
              node("out", "dense", ["flat"], units=classes)]
    return model(*nodes)


def recurrent_classifier(kind: str = "gru", seq: int = 13, vocab: int = 32) -> dict[str, Any]:
    return model(node("x", "input", shape=[seq], dtype="long"),
                 node("emb", "embedding", ["x"], num_embeddings=vocab, embedding_dim=8),
                 node("rnn", kind, ["emb"], hidden_size=16, bidirectional=True),
                 node("out", "dense", ["rnn"], units=2))


def job(model_body: dict[str, Any], dataset: str, **train: Any) -> dict[str, Any]:
    return {"model": model_body, "data": {"dataset": dataset}, "train": train}
