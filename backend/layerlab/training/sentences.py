"""A tiny grammar of movie-review sentences whose label flips under negation (sentiment set, 9.5).

"the movie was not good" is negative, "not bad at all" positive, "i did not hate it" positive, and in
"the plot was dull but the music was great" the clause after "but" decides. A bag of words cannot
solve it; a sequence model can. Pure Python (random.Random is ~50× faster than numpy per scalar
draw) so the catalogue can state the vocabulary and the padded length without generating data.
"""

from __future__ import annotations

import random
from functools import cache

SUBJECTS = ("the movie", "the film", "the plot", "the acting", "the music", "the ending", "this show", "it")
COPULAS = ("was", "is")
NEGATIONS = ("not", "never")
INTENSIFIERS = ("very", "really", "so", "quite")
POSITIVE = ("good", "great", "fun", "funny", "brilliant", "wonderful", "enjoyable", "clever", "moving", "beautiful")
NEGATIVE = ("bad", "awful", "boring", "dull", "terrible", "poor", "silly", "weak", "painful", "ugly")
PEOPLE = ("i", "we", "my friends", "everyone")
# (past, base form, liked?)
VERBS = (("loved", "love", True), ("liked", "like", True), ("enjoyed", "enjoy", True), ("adored", "adore", True),
         ("hated", "hate", False), ("disliked", "dislike", False), ("despised", "despise", False),
         ("detested", "detest", False))
CLASS_NAMES = ("negative", "positive")
ADJECTIVES = POSITIVE + NEGATIVE

# Sentence kinds and how often they are drawn: copula clause, verb clause, fragment, "x but y".
KIND_WEIGHTS = (0.35, 0.2, 0.15, 0.3)


def _words(phrases: tuple[str, ...]) -> set[str]:
    return {w for p in phrases for w in p.split()}


@cache
def all_words() -> tuple[str, ...]:
    words = _words(SUBJECTS + COPULAS + NEGATIONS + INTENSIFIERS + ADJECTIVES + PEOPLE)
    words |= {v for past, base, _ in VERBS for v in (past, base)}
    words |= {"did", "it", "at", "all", "but"}
    return tuple(sorted(words))


def _max_words(phrases: tuple[str, ...]) -> int:
    return max(len(p.split()) for p in phrases)


def _clause_max() -> int:
    copula = _max_words(SUBJECTS) + 1 + 1 + 1 + 1  # subject was not very good
    verb = _max_words(PEOPLE) + 2 + 1 + 1  # my friends did not love it
    return max(copula, verb)


@cache
def max_tokens() -> int:
    """Padded length of the set: the longest sentence the grammar can produce ("x but y")."""
    return max(2 * _clause_max() + 1, 4)


def universe() -> int:
    """How many distinct sentences the grammar can produce (bounds n_samples)."""
    copula = len(SUBJECTS) * len(COPULAS) * (len(NEGATIONS) + 1) * (len(INTENSIFIERS) + 1) * len(ADJECTIVES)
    verb = len(PEOPLE) * len(VERBS) * 3
    fragment = len(ADJECTIVES) * (1 + len(INTENSIFIERS))
    return copula + verb + fragment + (copula + verb) ** 2


def _pick(rng: random.Random, options: tuple) -> object:
    return options[rng.randrange(len(options))]


def _copula_clause(rng: random.Random) -> tuple[list[str], bool]:
    adj = str(_pick(rng, ADJECTIVES))
    negation = _pick(rng, ("",) + NEGATIONS)
    intensifier = _pick(rng, ("",) + INTENSIFIERS)
    words = f"{_pick(rng, SUBJECTS)} {_pick(rng, COPULAS)} {negation} {intensifier} {adj}".split()
    return words, (adj in POSITIVE) != bool(negation)


def _verb_clause(rng: random.Random) -> tuple[list[str], bool]:
    past, base, liked = _pick(rng, VERBS)  # type: ignore[misc]
    form = rng.randrange(3)
    middle = (past, f"did not {base}", f"never {past}")[form]
    return f"{_pick(rng, PEOPLE)} {middle} it".split(), liked != (form > 0)


def _fragment(rng: random.Random) -> tuple[list[str], bool]:
    adj = str(_pick(rng, ADJECTIVES))
    intensifier = _pick(rng, ("not",) + INTENSIFIERS)
    if intensifier == "not":
        return ["not", adj, "at", "all"], adj not in POSITIVE
    return [str(intensifier), adj], adj in POSITIVE


def _clause(rng: random.Random) -> tuple[list[str], bool]:
    return _copula_clause(rng) if rng.random() < 0.6 else _verb_clause(rng)


def sentence(rng: random.Random) -> tuple[list[str], int]:
    """One sentence as words and its label (1 = positive)."""
    kind = rng.choices(range(len(KIND_WEIGHTS)), weights=KIND_WEIGHTS)[0]
    if kind == 0:
        words, positive = _copula_clause(rng)
    elif kind == 1:
        words, positive = _verb_clause(rng)
    elif kind == 2:
        words, positive = _fragment(rng)
    else:
        first, _ = _clause(rng)
        words, positive = _clause(rng)
        words = first + ["but"] + words
    return words, int(positive)
