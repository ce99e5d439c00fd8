"""Negative data for FF and BP/FF: which wrong label goes with which image, without materialising the 10x copy.

Rules (docs/methods.md §M1.7, §X7):

* ``"fixed_subset"`` (EmergentRepresentations): of the N·(K−1) (image, wrong label) pairs, draw N without
  replacement once (``randperm``); negative i is index-paired with positive i. An image may appear 0 or several
  times among the negatives. Drawn once, fixed for all epochs and layers.
* ``"one_per_image"``: every image once, with one random wrong label, fixed.
* ``"resample_each_epoch"`` (Hinton 2022, loeweX): every image once, with a fresh random wrong label each epoch.
* ``"hardest"``: every image once, with the wrong label the current model scores highest (Hinton's supervised
  variant uses the model's predictions to pick hard negatives), recomputed each epoch.

Held-out classes: ``neg_classes`` is the set of labels allowed as negatives: the training classes under
``strict`` and all classes under ``loose``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ensembles.errors import ParameterError


def wrong_label_table(n_classes: int, train_classes: Sequence[int], neg_classes: Sequence[int]) -> torch.Tensor:
    """``table[y]`` = the labels allowed as negatives for an image of class ``y`` (``neg_classes`` minus ``y``).

    Rows of classes that are not training classes are filled with -1 (never used).
    """
    neg = sorted(set(int(c) for c in neg_classes))
    train = sorted(set(int(c) for c in train_classes))
    missing = [c for c in train if c not in neg]
    if missing:
        raise ParameterError(f"Every training class must be allowed as a negative label; missing {missing}.")
    if len(neg) < 2:
        raise ParameterError(f"Negative labels need at least 2 allowed classes. Got {neg}.")
    table = torch.full((n_classes, len(neg) - 1), -1, dtype=torch.long)
    for y in train:
        table[y] = torch.tensor([c for c in neg if c != y], dtype=torch.long)
    return table


def random_wrong_labels(y: torch.Tensor, table: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One uniformly drawn allowed wrong label per entry of ``y``."""
    r = torch.randint(0, table.shape[1], (y.shape[0],), generator=gen)
    return table[y, r]


def fixed_subset(y: torch.Tensor, table: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """EmergentRepresentations' negatives: N of the N·m (image, wrong label) pairs, drawn without replacement.

    Pair j ↦ image j // m, label ``table[y[j // m], j % m]`` (m = number of wrong labels per image), which is the
    authors' randperm over the 9N wrong-label copies without building them.  Returns (image index, label).
    """
    n, m = y.shape[0], table.shape[1]
    j = torch.randperm(n * m, generator=gen)[:n]
    img = j // m
    return img, table[y[img], j % m]


def draw_negatives(rule: str, y: torch.Tensor, table: torch.Tensor, gen: torch.Generator
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(image index, wrong label) for each of the N negatives under ``rule`` (``"hardest"`` is drawn by the
    trainer from model scores; here it falls back to random labels for the first epoch)."""
    if rule == "fixed_subset":
        return fixed_subset(y, table, gen)
    return torch.arange(y.shape[0]), random_wrong_labels(y, table, gen)


def hardest_wrong_labels(scores: torch.Tensor, y: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """The allowed wrong label with the highest score; ``scores`` is ``(N, K)`` over all K labels."""
    allowed = torch.zeros_like(scores, dtype=torch.bool)
    rows = torch.arange(y.shape[0]).unsqueeze(1).expand(-1, table.shape[1])
    allowed[rows, table[y]] = True
    masked = scores.masked_fill(~allowed, float("-inf"))
    return masked.argmax(dim=1)
