"""Nothing released is a reversible function of the seed or of a label.

The attack these tests replay: prompt fingerprints used to be SplitMix64(personal_key ^ salt), with
personal_key = employee << 22 | performative << 20 | template and salt = SplitMix64(seed). The
finaliser is a bijection, so inverting it gave every reused prompt's performative bit and, with
the employee index, the salt and then the seed: the public generator rebuilt the labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datasets import keyed
from datasets.api import generate_company
from datasets.pipeline import TEMPLATE_SLOTS, _template_fingerprints

MASK = (1 << 64) - 1
SEED = 3


def _mix64(x: int) -> int:
    """The old SplitMix64 finaliser (63-bit output), as the generator used it."""
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return (z ^ (z >> 31)) & ((1 << 63) - 1)


def _unshift_xor(z: int, shift: int) -> int:
    x = z
    for _ in range(64 // shift + 1):
        x = z ^ (x >> shift)
    return x & MASK


def _unmix63(fp: int) -> list[int]:
    """Both 64-bit preimages of a 63-bit SplitMix64 output (the top bit was masked off)."""
    out = []
    for top in (0, 1 << 63):
        z = _unshift_xor(fp | top, 31)
        z = (z * pow(0x94D049BB133111EB, -1, 1 << 64)) & MASK
        z = _unshift_xor(z, 27)
        z = (z * pow(0xBF58476D1CE4E5B9, -1, 1 << 64)) & MASK
        z = _unshift_xor(z, 30)
        out.append((z - 0x9E3779B97F4A7C15) & MASK)
    return out


def _recover_salt(events: pd.DataFrame) -> tuple[int, float]:
    """The attack: the salt's high bits that most reused fingerprints agree on, and how many agree."""
    reused = events[events.duplicated(["employee_id", "prompt_fingerprint"], keep=False)]
    pairs = reused.drop_duplicates(["employee_id", "prompt_fingerprint"])
    votes: dict[int, int] = {}
    for employee, fp in zip(pairs["employee_id"], pairs["prompt_fingerprint"]):
        index = int(str(employee)[1:]) - 1
        for pre in _unmix63(int(fp)):
            high = (pre ^ (index << 22)) >> 34  # above the employee bits: the salt alone
            votes[high] = votes.get(high, 0) + 1
    best = max(votes, key=votes.get)
    return best, votes[best] / len(pairs)


@pytest.fixture(scope="module")
def company():
    return generate_company("mandate-bigco", 60, 45, SEED)


def test_the_old_attack_works_on_old_style_fingerprints():
    """The attack is real: on fingerprints built the old way it finds the salt from a handful of prompts."""
    salt = _mix64(SEED)
    rows = []
    for employee in range(20):
        for mode in (0, 1):
            for template in range(3):
                fp = _mix64(((employee << 22) + (mode << 20) + template) ^ salt)
                rows += [{"employee_id": f"E{employee + 1:05d}", "prompt_fingerprint": fp}] * 2
    high, agreement = _recover_salt(pd.DataFrame(rows))
    assert high == salt >> 34 and agreement == 1.0
    # ... and the inverse gives back the performative bit of every prompt
    pre = [p for p in _unmix63(_mix64(((5 << 22) + (1 << 20) + 2) ^ salt)) if (p ^ salt) >> 34 == 0]
    assert ((pre[0] ^ salt) >> 20) & 1 == 1


def test_the_inversion_finds_nothing_in_released_fingerprints(company):
    _, agreement = _recover_salt(company.ai_events)
    assert agreement < 0.01  # the "salt" every prompt should agree on is noise


def test_fingerprints_do_not_tell_performative_from_genuine_sessions(company):
    """No bit of a fingerprint leans towards theater: the mode is not an input of the hash."""
    events = company.ai_events.merge(company.event_labels, on="event_id")
    # each distinct prompt once (a reused template would otherwise count its bits many times)
    prompts = events.drop_duplicates(["prompt_fingerprint", "is_theater"])
    fp = prompts["prompt_fingerprint"].to_numpy(dtype=np.uint64)
    theater = prompts["is_theater"].to_numpy(dtype=bool)
    bits = ((fp[:, None] >> np.arange(63, dtype=np.uint64)) & np.uint64(1)).astype(float)
    gap = np.abs(bits[theater].mean(axis=0) - bits[~theater].mean(axis=0))
    # 63 bits: five standard errors of a difference of two shares is far above chance
    limit = 5 * np.sqrt(0.25 / theater.sum() + 0.25 / (~theater).sum())
    assert gap.max() < limit, (gap.max(), limit)


def test_template_fingerprints_under_related_seeds_are_unrelated():
    """Flipping any one bit of the seed changes every fingerprint (about half their bits)."""
    members = np.arange(5)
    base = _template_fingerprints(SEED, members).astype(np.uint64)
    for bit in (0, 1, 17, 40, 62):
        other = _template_fingerprints(SEED ^ (1 << bit), members).astype(np.uint64)
        assert not np.intersect1d(base, other).size
        flipped = np.unpackbits((base ^ other).view(np.uint8)).reshape(base.size, 64).sum(axis=1)
        assert 24 < flipped.mean() < 40
    assert base.shape == (5, TEMPLATE_SLOTS) and len(np.unique(base)) == base.size


def test_keys_depend_on_the_whole_seed_and_the_purpose():
    assert keyed.derive_key(SEED, "a") != keyed.derive_key(SEED, "b")
    assert keyed.derive_key(SEED, "a") != keyed.derive_key(SEED + 1, "a")
    assert keyed.keyed_uniform(SEED, "a", "x") != keyed.keyed_uniform(SEED, "a", "y")
    assert 0.0 <= keyed.keyed_uniform(SEED, "a", "x") < 1.0


def test_no_released_number_is_a_simple_function_of_the_seed():
    """Neither the seed, its halves, nor the old salt appear anywhere in the released tables."""
    seed = 424242
    released = generate_company("mandate-bigco", 30, 20, seed)
    suspects = {seed, seed & 0xFFFFFFFF, seed >> 32, _mix64(seed), _mix64(seed) >> 1, seed % 2**31}
    for name, frame in released.tables(with_labels=False).items():
        for column in frame.columns:
            if pd.api.types.is_integer_dtype(frame[column]):
                values = set(frame[column].dropna().astype("int64"))
                assert not values & {s for s in suspects if s > 10**6}, (name, column)
