"""Batched ensembles: K small models of one architecture trained as ONE model with torch.func.

The members' parameters are stacked ([K, ...], `stack_module_state`), the forward pass is
`vmap(functional_call(base, ...))` over the stack, and one backward of the summed member losses gives
every member its own gradient (members share no parameters). A StackedOptimizer then applies each
member's own optimizer, lr and weight decay. This is what makes a 32-model study cost about one model.

Members may also differ in width: with `pad=True` every parameter is zero-padded to the largest member's
shape and a mask keeps the padding at zero (gradients masked), which for dense/activation/dropout chains
computes exactly the narrow network (padded units have zero in- and out-weights). Masks also serve
pruning (lottery tickets). Dropout masks differ per member (vmap randomness="different").
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ..catalogue.training import OptimizerSpec
from .batched_optim import StackedOptimizer
from .losses import Objective

Tensors = dict[str, torch.Tensor]


class BatchedEnsemble:
    """K models with the same module structure, trained together.

    `models` supply the initial weights (already seeded/initialised by the caller) and the structure;
    `optimizers[k]` / `weight_decays[k]` set member k's update rule; `masks` (name -> [K, ...] of 0/1) pin
    entries at zero; `l1` and `clip` (per-member gradient-norm clipping) act like TrainSpec's.
    """

    def __init__(
        self,
        models: Sequence[nn.Module],
        optimizers: Sequence[OptimizerSpec],
        weight_decays: Sequence[float] | None = None,
        *,
        pad: bool = False,
        masks: Tensors | None = None,
        l1: float = 0.0,
        clip: float | None = None,
    ) -> None:
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.k = len(models)
        self.shapes: list[dict[str, tuple[int, ...]]] = [
            {n: tuple(p.shape) for n, p in m.named_parameters()} for m in models
        ]
        _check_structure(models, pad)
        if pad and any(s != self.shapes[0] for s in self.shapes):
            params, buffers, pad_masks = _padded_stack(models)
        else:
            params, buffers = stack_module_state(list(models))
            pad_masks = {}
        self.masks: Tensors = _merge_masks(pad_masks, masks)
        with torch.no_grad():
            for name, mask in self.masks.items():
                params[name].mul_(mask)
        self.params: Tensors = params
        self.buffers: Tensors = buffers
        self.base = copy.deepcopy(models[0]).to("meta")
        self.optimizer = StackedOptimizer(params, optimizers, weight_decays or [0.0] * self.k)
        self.l1 = l1
        self.clip = clip

    # -- forward -------------------------------------------------------------------------------------------

    def forward(self, *xs: torch.Tensor, per_member: bool = False, training: bool = True) -> torch.Tensor:
        """Outputs [K, B, ...]. Inputs are shared [B, ...] or, with `per_member`, one batch each [K, B, ...]."""
        return stacked_forward(self.base, self.params, self.buffers, *xs, per_member=per_member, training=training)

    # -- training ------------------------------------------------------------------------------------------

    def train_step(
        self, xs: Sequence[torch.Tensor], y: torch.Tensor, objective: Objective, *, per_member: bool = False,
        lr_factor: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step of every member; returns (losses [K], correct counts [K]) without syncing."""
        out = self.forward(*xs, per_member=per_member)
        losses = member_losses(out, y, objective, per_member=per_member)
        total = losses.sum()
        if self.l1 > 0:
            total = total + self.l1 * sum(p.abs().sum() for p in self.params.values() if p.dim() >= 3)
        grads = dict(zip(self.params, torch.autograd.grad(total, list(self.params.values())), strict=True))
        for name, mask in self.masks.items():
            grads[name] = grads[name] * mask
        if self.clip is not None:
            _clip_per_member(grads, self.clip)
        self.optimizer.step(grads, lr_factor)
        return losses.detach(), correct_counts(out.detach(), y, objective, per_member=per_member)[0]

    @torch.no_grad()
    def evaluate(
        self, inputs: Sequence[torch.Tensor], target: torch.Tensor, objective: Objective, *, batch_size: int = 512
    ) -> tuple[list[float], list[float] | None]:
        """Per-member (mean loss, accuracy) over a whole split, dropout off."""
        n = int(target.shape[0])
        loss_sum = torch.zeros(self.k, dtype=torch.float64, device=target.device)
        correct = torch.zeros(self.k, dtype=torch.float64, device=target.device)
        counted = torch.zeros(self.k, dtype=torch.float64, device=target.device)
        for start in range(0, n, batch_size):
            xs = tuple(x[start:start + batch_size] for x in inputs)
            y = target[start:start + batch_size]
            out = self.forward(*xs, training=False)
            losses = member_losses(out, y, objective)
            c, m = correct_counts(out, y, objective)
            loss_sum += losses.double() * m
            correct += c
            counted += m
        rows = torch.stack((loss_sum / counted, correct / counted)).tolist()
        return rows[0], (rows[1] if objective.has_accuracy else None)

    # -- reading members back --------------------------------------------------------------------------------

    def member_state(self, k: int) -> Tensors:
        """Member k's parameters, cropped back to its own shapes (a state dict for its own model)."""
        out: Tensors = {}
        for name, stacked in self.params.items():
            shape = self.shapes[k][name]
            out[name] = stacked[k].detach()[tuple(slice(0, s) for s in shape)].clone()
        for name, stacked in self.buffers.items():
            out[name] = stacked[k].detach().clone()
        return out

    def load_into(self, k: int, model: nn.Module) -> nn.Module:
        model.load_state_dict(self.member_state(k))
        return model


def stacked_forward(
    base: nn.Module, params: Tensors, buffers: Tensors, *xs: torch.Tensor, per_member: bool = False,
    training: bool = False,
) -> torch.Tensor:
    """`base`'s forward for every stacked parameter set ([K, ...] each): outputs [K, B, ...].

    `base` may live on the meta device: only its structure is used. Also evaluates many points of a loss
    landscape at once (one parameter set per point)."""
    base.train(training)

    def one(p: Tensors, b: Tensors, *x: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (p, b), x)

    dims = (0, 0, *([0 if per_member else None] * len(xs)))
    return vmap(one, in_dims=dims, randomness="different" if training else "error")(params, buffers, *xs)


def member_losses(out: torch.Tensor, y: torch.Tensor, objective: Objective, *, per_member: bool = False
                  ) -> torch.Tensor:
    """Each member's mean loss [K] for outputs [K, B, ...]: `Objective.loss` of every member, in one pass."""
    k = out.shape[0]
    if not per_member:
        y = y.unsqueeze(0).expand(k, *y.shape)
    kind = objective.kind
    if kind == "cross_entropy":
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="none").view(k, -1).mean(1)
    if kind == "sequence_cross_entropy":
        ignore = objective.ignore_index
        each = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=ignore, reduction="none")
        counted = (y != ignore).reshape(k, -1).sum(1)
        return each.view(k, -1).sum(1) / counted
    if kind == "mse":
        return F.mse_loss(out, y.reshape(out.shape).to(out.dtype), reduction="none").reshape(k, -1).mean(1)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(out.reshape(y.shape), y.to(out.dtype), reduction="none"
                                                  ).reshape(k, -1).mean(1)
    raise ValueError(f"no batched loss for {kind!r}")


def correct_counts(
    out: torch.Tensor, y: torch.Tensor, objective: Objective, *, per_member: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-member (correct predictions [K], predictions counted [K]) for outputs [K, B, ...]."""
    k = out.shape[0]
    if not per_member:
        y = y.unsqueeze(0).expand(k, *y.shape)
    if objective.kind == "cross_entropy":
        hits = out.argmax(-1) == y
        mask = torch.ones_like(hits)
    elif objective.kind == "sequence_cross_entropy":
        mask = y != objective.ignore_index
        hits = (out.argmax(-1) == y) & mask
    elif objective.kind == "bce":
        hits = (out.reshape(y.shape) > 0) == (y > 0.5)
        mask = torch.ones_like(hits)
    else:
        hits = torch.zeros(out.shape, dtype=torch.bool, device=out.device)
        mask = torch.ones_like(hits)
    return hits.reshape(k, -1).sum(1).to(out.dtype), mask.reshape(k, -1).sum(1).to(out.dtype)


def _clip_per_member(grads: Tensors, max_norm: float) -> None:
    """clip_grad_norm_ for each member separately (the norm over all of that member's gradients)."""
    sq = sum(g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads.values())
    scale = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
    for name, g in grads.items():
        grads[name] = g * scale.reshape(-1, *([1] * (g.dim() - 1)))


def _signature(model: nn.Module) -> list[tuple[str, str, str]]:
    """Each submodule's name and type, plus its settings where it has no parameters (activation, dropout p)."""
    return [(name, type(m).__name__, "" if any(True for _ in m.parameters(recurse=False)) else m.extra_repr())
            for name, m in model.named_modules()]


def _check_structure(models: Sequence[nn.Module], pad: bool) -> None:
    """Members must compute the same function of their parameters (the ensemble runs member 0's modules)."""
    first = _signature(models[0])
    names = [[(n, p.dim()) for n, p in m.named_parameters()] for m in models]
    for i, model in enumerate(models[1:], start=1):
        if names[i] != names[0] or _signature(model) != first:
            raise ValueError(f"member {i} has a different module structure than member 0; an ensemble needs one "
                             "architecture")
        if not pad:
            for (n, _), p, q in zip(names[i], model.parameters(), models[0].parameters(), strict=True):
                if p.shape != q.shape:
                    raise ValueError(f"member {i}: parameter {n} is {tuple(p.shape)}, member 0's is "
                                     f"{tuple(q.shape)} (pass pad=True to train different widths together)")


def _padded_stack(models: Sequence[nn.Module]) -> tuple[Tensors, Tensors, Tensors]:
    """Zero-pad every member's parameters to the largest shape; masks mark each member's own entries."""
    named = [dict(m.named_parameters()) for m in models]
    params: Tensors = {}
    masks: Tensors = {}
    for name in named[0]:
        tensors = [d[name].detach() for d in named]
        big = [max(t.shape[d] for t in tensors) for d in range(tensors[0].dim())]
        stacked = torch.zeros(len(tensors), *big, dtype=tensors[0].dtype, device=tensors[0].device)
        mask = torch.zeros_like(stacked)
        for i, t in enumerate(tensors):
            region = (i, *(slice(0, s) for s in t.shape))
            stacked[region] = t
            mask[region] = 1
        params[name] = stacked.requires_grad_(True)
        if not bool(mask.all()):
            masks[name] = mask
    buffers = {n: torch.stack([dict(m.named_buffers())[n] for m in models]) for n, _ in models[0].named_buffers()}
    return params, buffers, masks


def _merge_masks(a: Tensors, b: Tensors | None) -> Tensors:
    out = dict(a)
    for name, mask in (b or {}).items():
        out[name] = out[name] * mask if name in out else mask
    return out
