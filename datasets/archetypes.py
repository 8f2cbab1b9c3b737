"""How each archetype behaves, as one table: one row per archetype, indexed by its code.

The generator (datasets/pipeline.py) reads every per-archetype number from here, so a scenario
family or a test changes behaviour by changing data, never by editing a chain of conditions.
A value that depends on the mandate's strength s is a pair (at s = 0, added per unit of s).

Columns:
- perf_pre: mean share of performative sessions before the mandate (once the person has access);
- perf_post: (base, per strength) mean share of performative sessions once the mandate has settled;
- usage_pre / usage_post: AI use relative to the person's own usage rate, before and after the
  mandate ((base, per strength) after);
- gains: True when AI access changes the person's output by the scenario's productivity gain
  (converts only from their conversion on);
- output_loss: mean share of output lost to performing AI use, at full mandate pressure;
- output_bonus: mean extra output over the role's rate, with or without AI (quiet experts are
  faster throughout: their speed is skill, not access);
- acceptance_genuine: mean acceptance of the person's genuine sessions;
- obliged: mean chance of answering "I use AI because I must" after the mandate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Archetype:
    code: int
    name: str
    perf_pre: float
    perf_post: tuple[float, float]
    usage_pre: float
    usage_post: tuple[float, float]
    gains: bool
    output_loss: float
    output_bonus: float
    acceptance_genuine: float
    obliged: float


ARCHETYPE_TABLE: tuple[Archetype, ...] = (
    Archetype(0, "genuine", 0.04, (0.04, 0.08), 1.0, (1.0, 0.4), True, 0.0, 0.0, 0.42, 0.14),
    Archetype(1, "tokenmaxxer", 0.35, (0.35, 0.50), 0.75, (1.1, 0.44), False, 0.07, 0.0, 0.42, 0.38),
    Archetype(2, "convert", 0.35, (0.35, 0.50), 0.75, (1.1, 0.44), True, 0.07, 0.0, 0.42, 0.38),
    Archetype(3, "non_user", 0.80, (0.80, 0.0), 0.0, (0.0, 0.04), False, 0.0, 0.0, 0.42, 0.45),
    Archetype(4, "quiet_expert", 0.03, (0.05, 0.0), 0.30, (0.32, 0.0), False, 0.0, 0.25, 0.60, 0.05),
)
ARCHETYPES = tuple(row.name for row in ARCHETYPE_TABLE)
assert all(row.code == code for code, row in enumerate(ARCHETYPE_TABLE)), "codes are the row order"


def column(name: str) -> np.ndarray:
    """One column of the table as an array indexed by archetype code (pairs become shape (5, 2))."""
    return np.array([getattr(row, name) for row in ARCHETYPE_TABLE], dtype=float)


def at_strength(name: str, strength: float) -> np.ndarray:
    """A (base, per strength) column evaluated at one mandate strength, indexed by archetype code."""
    pairs = column(name)
    return pairs[:, 0] + pairs[:, 1] * strength
