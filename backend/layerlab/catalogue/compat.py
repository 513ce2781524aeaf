"""Does the model fit its data set and loss? Input fields, output shape per task and loss, referenced node ids.

Works on the data set's signature only (shapes, task, classes), never on generated data.
"""

from __future__ import annotations

from .dataset_info import DatasetSignature
from .errors import SpecError
from .resolve import ResolvedGraph, ResolvedNode
from .shapes import TensorShape
from .training import TrainSpec

SEQUENCE_TASKS = ("seq2seq", "sequence_labeling")
AUTO_LOSS = {"classification": "cross_entropy", "regression": "mse", "seq2seq": "sequence_cross_entropy",
             "sequence_labeling": "sequence_cross_entropy"}
LOSS_TASKS = {
    "cross_entropy": ("classification", *SEQUENCE_TASKS),
    "sequence_cross_entropy": SEQUENCE_TASKS,
    "mse": ("classification", "regression"),
    "bce": ("classification",),
}


def effective_loss(train: TrainSpec, task: str) -> str:
    if train.loss != "auto":
        return train.loss
    return "mse" if train.target == "input" else AUTO_LOSS[task]


def check_inputs(graph: ResolvedGraph, fields: list[str], sig: DatasetSignature, name: str, where: str) -> None:
    """Each input node reads an existing field of the data set with exactly that field's shape and dtype."""
    for node, field in zip(graph.inputs, fields, strict=True):
        have = sig.fields.get(field)
        if have is None:
            raise SpecError(
                f"node {node.label} reads field {field!r}, which data set {name} does not have "
                f"(its fields: {', '.join(sig.fields)}); set params.field or name the node after a field",
                node_id=node.id, loc=["model", "nodes", node.index, "params"],
            )
        if have != node.output_shape:
            raise SpecError(
                f"node {node.label} has shape {node.output_shape.describe()} but field {field!r} of data set "
                f"{name}{where} is {have.describe()}",
                node_id=node.id, loc=["model", "nodes", node.index, "params", "shape"],
            )


def check_vocab(graph: ResolvedGraph, fields: list[str], sig: DatasetSignature, name: str, where: str) -> None:
    """An embedding that reads a token field directly needs a row for every token id of the vocabulary."""
    if sig.vocab is None:
        return
    field_of = {n.id: f for n, f in zip(graph.inputs, fields, strict=True)}
    for node in graph.nodes:
        rows = getattr(node.params, "num_embeddings", None)
        source = node.spec.inputs[0] if len(node.spec.inputs) == 1 else None
        if rows is None or source not in field_of:
            continue
        if sig.fields[field_of[source]].dtype == "long" and rows < len(sig.vocab):
            raise SpecError(
                f"node {node.label} has num_embeddings={rows}, but field {field_of[source]!r} of data set "
                f"{name}{where} uses {len(sig.vocab)} token ids: num_embeddings must be at least {len(sig.vocab)}",
                node_id=node.id, loc=["model", "nodes", node.index, "params", "num_embeddings"],
            )


def check_output(
    graph: ResolvedGraph, fields: list[str], sig: DatasetSignature, train: TrainSpec, name: str, where: str
) -> None:
    """The first output suits the task and the loss (the loss compares it with the target)."""
    out = graph.by_id()[graph.outputs[0]]
    loss = effective_loss(train, sig.task)
    if train.target == "input":
        _check_reconstruction(graph, fields, sig, out, loss, name)
        return
    if sig.task not in LOSS_TASKS[loss]:
        raise SpecError(
            f"loss {loss} does not suit data set {name}{where}, a {sig.task} task "
            f"(use {AUTO_LOSS[sig.task]} or 'auto')", loc=["train", "loss"],
        )
    want = _wanted_output(sig, loss)
    if out.output_shape != want:
        raise SpecError(
            f"output node {out.label} gives {out.output_shape.describe()}, but data set {name}{where} is a "
            f"{sig.task} task{_classes(sig)}: with loss {loss} the output must be {want.describe()}",
            node_id=out.id, loc=["model", "nodes", out.index],
        )


def _wanted_output(sig: DatasetSignature, loss: str) -> TensorShape:
    classes = sig.num_classes or 0
    if sig.task == "regression":
        return TensorShape(sig.target.dims or (1,))
    if sig.task in SEQUENCE_TASKS:
        return TensorShape((sig.target.dims[0], classes))
    if loss == "bce" and classes == 2:
        return TensorShape((1,))
    return TensorShape((classes,))


def _classes(sig: DatasetSignature) -> str:
    if sig.num_classes is None:
        return ""
    noun = "tokens in its vocabulary" if sig.task in SEQUENCE_TASKS else "classes"
    return f" with {sig.num_classes} {noun}"


def _check_reconstruction(
    graph: ResolvedGraph, fields: list[str], sig: DatasetSignature, out: ResolvedNode, loss: str, name: str
) -> None:
    """target=input (autoencoder): the output reconstructs the first input, so it has its float shape."""
    first = sig.fields[fields[0]]
    if first.dtype != "float":
        raise SpecError(f"train.target 'input' reconstructs the input, but field {fields[0]!r} of data set {name} "
                        f"is {first.describe()}; reconstruction needs float inputs", loc=["train", "target"])
    if loss not in ("mse", "bce"):
        raise SpecError(f"train.target 'input' needs a reconstruction loss (mse or bce), got {loss}",
                        loc=["train", "loss"])
    if out.output_shape != first:
        raise SpecError(
            f"output node {out.label} gives {out.output_shape.describe()}, but train.target 'input' reconstructs "
            f"field {fields[0]!r} of data set {name}, {first.describe()}: the output must have that shape",
            node_id=out.id, loc=["model", "nodes", out.index],
        )


def check_node_refs(ids: set[str], refs: list[str], loc: list[str | int], what: str) -> None:
    for j, ref in enumerate(refs):
        if ref not in ids:
            raise SpecError(f"{what} names {ref!r}, which is not a node id in this model", loc=[*loc, j])
