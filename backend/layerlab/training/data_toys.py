"""2-D toy sets in the manner of TensorFlow Playground (playground/src/dataset.ts).

Points are drawn in Playground's coordinates ([-6, 6]) and divided by 6, so the inputs and the
decision-boundary grid live in [-1, 1]. Labels are class indices (Playground's -1 → 0, +1 → 1);
`plane` is regression with a [1] float target. As in Playground, circle and xor label each point
by a noisy copy of itself, so noise there reads as label noise near the border.
"""

from __future__ import annotations

import math

import numpy as np

SCALE = 6.0
DOMAIN = (-1.0, 1.0, -1.0, 1.0)

Points = tuple[np.ndarray, np.ndarray]


def _halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def circle(n: int, noise: float, rng: np.random.Generator) -> Points:
    radius = 5.0
    inner, outer = _halves(n)
    r = np.concatenate([rng.uniform(0, radius * 0.5, inner), rng.uniform(radius * 0.7, radius, outer)])
    angle = rng.uniform(0, 2 * math.pi, n)
    xy = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    jitter = rng.uniform(-radius, radius, (n, 2)) * noise
    label = (np.linalg.norm(xy + jitter, axis=1) < radius * 0.5).astype(np.int64)
    return xy, label


def xor(n: int, noise: float, rng: np.random.Generator) -> Points:
    padding = 0.3
    xy = rng.uniform(-5, 5, (n, 2))
    xy += np.where(xy > 0, padding, -padding)
    jitter = rng.uniform(-5, 5, (n, 2)) * noise
    noisy = xy + jitter
    label = (noisy[:, 0] * noisy[:, 1] >= 0).astype(np.int64)
    return xy, label


def gauss(n: int, noise: float, rng: np.random.Generator) -> Points:
    # Playground maps noise 0..0.5 linearly to a variance of 0.5..4; beyond 0.5 it keeps the slope.
    variance = 0.5 + noise * 7.0
    first, second = _halves(n)
    centres = np.concatenate([np.full((first, 2), 2.0), np.full((second, 2), -2.0)])
    xy = rng.normal(centres, math.sqrt(variance))
    label = np.concatenate([np.ones(first, np.int64), np.zeros(second, np.int64)])
    return xy, label


def spiral(n: int, noise: float, rng: np.random.Generator) -> Points:
    """Two arms, Playground's r = 5·i/m, t = 1.75·2π·i/m + Δ; each arm starts at r = 0.5 instead of 0
    so the two classes do not coincide at the centre (otherwise no model can reach ~100%)."""
    arms = []
    for count, delta, label in ((n // 2, 0.0, 1), (n - n // 2, math.pi, 0)):
        i = np.arange(count) / count
        r = 0.5 + 4.5 * i
        t = 1.75 * i * 2 * math.pi + delta
        xy = np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + rng.uniform(-1, 1, (count, 2)) * noise
        arms.append((xy, np.full(count, label, np.int64)))
    return np.concatenate([a[0] for a in arms]), np.concatenate([a[1] for a in arms])


def moons(n: int, noise: float, rng: np.random.Generator) -> Points:
    """scikit-learn's two moons (outer arc label 0, inner arc label 1), centred and scaled by 3 to
    Playground's range; noise is the Gaussian σ in the moons' own units."""
    outer, inner = _halves(n)
    t_out = rng.uniform(0, math.pi, outer)
    t_in = rng.uniform(0, math.pi, inner)
    xy = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                         np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    xy = xy + rng.normal(0, 1, (n, 2)) * noise
    xy = (xy - np.array([0.5, 0.25])) * 3.0
    label = np.concatenate([np.zeros(outer, np.int64), np.ones(inner, np.int64)])
    return xy, label


def plane(n: int, noise: float, rng: np.random.Generator) -> Points:
    """Playground's regress-plane: target (x1 + x2) / 10 of a noisy copy of the point."""
    radius = 6.0
    xy = rng.uniform(-radius, radius, (n, 2))
    jitter = rng.uniform(-radius, radius, (n, 2)) * noise
    value = (xy + jitter).sum(axis=1, keepdims=True) / 10.0
    return xy, value


GENERATORS = {"circle": circle, "xor": xor, "gauss": gauss, "spiral": spiral, "moons": moons, "plane": plane}


def generate(name: str, n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points as float32 [n, 2] in [-1, 1] and labels int64 [n] (or values float32 [n, 1])."""
    xy, target = GENERATORS[name](n, noise, rng)
    target = target.astype(np.float32) if target.dtype.kind == "f" else target
    return (xy / SCALE).astype(np.float32), target
