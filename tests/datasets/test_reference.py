"""The reference detector's building blocks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from datasets.reference import OUTCOME_FEATURES, employee_features, roc_auc


def _pairwise_auc(scores, positive):
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_rank_auc_matches_counting_pairs_including_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 60).astype(float)
    positive = rng.random(60) < 0.4
    assert roc_auc(scores, positive) == pytest.approx(_pairwise_auc(scores, positive))
    assert roc_auc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert roc_auc([1, 2, 3, 4], [True, True, False, False]) == 0.0


def test_rank_auc_needs_both_classes():
    with pytest.raises(ValueError):
        roc_auc([1, 2], [True, True])


def test_features_exist_for_every_ai_user_and_stay_in_range(small_company):
    features = employee_features(small_company, since=None)
    users = small_company.ai_events["employee_id"].unique()
    assert set(features.index) == set(users)
    for name in ("acceptance_rate", "self_doc_share", "near_duplicate_rate", "linked_session_share"):
        assert features[name].between(0, 1).all(), name
    assert (features["deadline_burst_ratio"] > 0).all()
    assert set(OUTCOME_FEATURES) <= set(features.columns)
