"""Contract of the "no close match" calibration (``backend.evaluation.calibration``) on the shipped model's real
scores of real clips.

* Features come from a query's score row (best score, margin over ranks 2-11: what the server has for a hit);
  the fitted confidence lies in [0, 1], survives a JSON round trip through the model's ``ConfidenceMap``
  (``confidence.json`` in a checkpoint) and carries a threshold in [0, 1].
* Fitted on real rows (captions of gallery clips vs actions no source holds), it orders its own fit data well
  (AUROC > 0.9); bad inputs raise InvalidInputError.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backend.errors import ConfigError, InvalidInputError
from backend.evaluation.calibration import auroc, fit_calibration, row_confidence, score_features
from backend.evaluation.query_sets import load_query_set
from backend.model.confidence import CONFIDENCE_FILE, ConfidenceMap


@pytest.fixture(scope="module")
def rows(sided_library: Path, shipped_model):
    from backend.evaluation.data import load_split
    from backend.evaluation.encoding import encode_motions, score_texts

    records = load_split("library", sided_library, "val")
    motion = encode_motions(shipped_model, [shipped_model.featurize(r.joints) for r in records])
    present = [c for r in records for c in r.captions[:2]]
    qs = load_query_set()
    absent = [q.text for q in qs.queries if qs.concepts[q.concept].kind == "absent"]
    return score_texts(shipped_model, present, motion), score_texts(shipped_model, absent, motion)


def test_fit_orders_present_above_absent(rows, tmp_path: Path) -> None:
    pos, neg = rows
    cal = fit_calibration(pos, neg)
    conf_pos, conf_neg = row_confidence(cal, pos), row_confidence(cal, neg)
    assert ((conf_pos >= 0) & (conf_pos <= 1)).all() and ((conf_neg >= 0) & (conf_neg <= 1)).all()
    assert auroc([True] * len(pos) + [False] * len(neg), np.r_[conf_pos, conf_neg]) > 0.9
    assert cal.n_fit == (len(pos), len(neg))
    assert 0.0 <= cal.threshold <= 1.0 and min(cal.coef) >= 0.0 and max(cal.coef) > 0.0  # monotone
    # the threshold separates most of the fit data (balanced operating point)
    assert (conf_pos >= cal.threshold).mean() > 0.7 and (conf_neg < cal.threshold).mean() > 0.7
    back = ConfidenceMap.from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_allclose(row_confidence(back, neg), conf_neg)
    path = cal.save(tmp_path / CONFIDENCE_FILE)
    assert json.loads(path.read_text())["features"] == ["score", "margin", "coverage"]
    loaded = ConfidenceMap.for_checkpoint(tmp_path)
    assert loaded is not None and loaded.threshold == cal.threshold
    assert ConfidenceMap.for_checkpoint(tmp_path / "none") is None
    # per hit: the confidence falls with the hit's score for one query's reference
    srt = -np.sort(-pos[0])
    ref = float(srt[1:11].mean())
    per_hit = cal.confidence(srt[:20], ref)
    assert (np.diff(per_hit) <= 1e-12).all()


def test_features_and_errors(rows) -> None:
    pos, _ = rows
    f = score_features(pos)
    np.testing.assert_allclose(f[:, 0], pos.max(axis=1))
    assert (f[:, 1] >= 0).all()
    assert auroc([True, True], [0.1, 0.2]) is None
    with pytest.raises(InvalidInputError, match="positive and negative"):
        fit_calibration(pos, pos[:0])
    with pytest.raises(InvalidInputError, match="2 clips"):
        score_features(np.zeros((3, 1)))
    with pytest.raises(ConfigError, match="features"):
        ConfidenceMap.from_dict({"features": ["top1", "margin10", "zscore"]})
    bad = fit_calibration(pos, pos).to_dict() | {"scale": [0.0, 1.0, 1.0]}
    with pytest.raises(ConfigError, match="positive scales"):
        ConfidenceMap.from_dict(bad)


def test_coverage_feature(rows) -> None:
    """The caption-bank coverage of the queries enters the fit when given (positive weight when it separates)
    and adds nothing when unknown; a map written before it (two features) loads with coverage weight 0."""
    pos, neg = rows
    rng = np.random.default_rng(0)
    pos_cov, neg_cov = rng.uniform(0.7, 1.0, len(pos)), rng.uniform(0.3, 0.75, len(neg))
    plain, cal = fit_calibration(pos, neg), fit_calibration(pos, neg, pos_cov, neg_cov)
    assert plain.coef[2] == 0.0 and cal.coef[2] > 0.0
    y = [True] * len(pos) + [False] * len(neg)
    assert auroc(y, np.r_[row_confidence(cal, pos, pos_cov), row_confidence(cal, neg, neg_cov)]) >= auroc(
        y, np.r_[row_confidence(plain, pos), row_confidence(plain, neg)]
    )
    # unknown coverage (NaN / None) = the fit's mean: between a low and a high coverage
    s = np.array([float(pos.max())])
    lo, mid, hi = (float(cal.confidence(s, 0.0, c)[0]) for c in (0.3, None, 1.0))
    assert lo < mid < hi
    assert float(cal.confidence(s, 0.0, float("nan"))[0]) == pytest.approx(mid)
    with pytest.raises(InvalidInputError, match="both"):
        fit_calibration(pos, neg, pos_cov, None)
    old = {"features": ["score", "margin"], "coef": [1.0, 0.0], "intercept": 0.0, "mean": [0.5, 0.0],
           "scale": [0.1, 1.0], "n_fit": [3, 2], "threshold": 0.4}  # fmt: skip
    m = ConfidenceMap.from_dict(old)
    assert m.coef == [1.0, 0.0, 0.0] and m.threshold == 0.4
    np.testing.assert_allclose(
        m.confidence(np.array([0.5, 0.6]), 0.4, 0.9), m.confidence(np.array([0.5, 0.6]), 0.4)
    )
