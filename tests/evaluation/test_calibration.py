"""Contract of the "no close match" calibration (``backend.evaluation.calibration``) on the shipped model's real
scores of real clips.

* Features come from a query's score row; the fitted confidence lies in [0, 1] and survives a JSON round trip.
* Fitted on real rows (captions of gallery clips vs actions no source holds), it orders its own fit data well
  (AUROC > 0.9); bad inputs raise InvalidInputError.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backend.errors import InvalidInputError
from backend.evaluation.calibration import Calibration, auroc, fit_calibration, score_features
from backend.evaluation.query_sets import load_query_set


@pytest.fixture(scope="module")
def rows(sided_library: Path, shipped_model):
    from backend.evaluation.data import load_split
    from backend.evaluation.run import encode_motions, score_texts

    records = load_split("library", sided_library, "val")
    motion = encode_motions(shipped_model, [shipped_model.featurize(r.joints) for r in records])
    present = [c for r in records for c in r.captions[:2]]
    qs = load_query_set()
    absent = [q.text for q in qs.queries if qs.concepts[q.concept].kind == "absent"]
    return score_texts(shipped_model, present, motion), score_texts(shipped_model, absent, motion)


def test_fit_orders_present_above_absent(rows, tmp_path: Path) -> None:
    pos, neg = rows
    cal = fit_calibration(pos, neg)
    conf_pos, conf_neg = cal.confidence(pos), cal.confidence(neg)
    assert ((conf_pos >= 0) & (conf_pos <= 1)).all() and ((conf_neg >= 0) & (conf_neg <= 1)).all()
    assert auroc([True] * len(pos) + [False] * len(neg), np.r_[conf_pos, conf_neg]) > 0.9
    assert cal.n_fit == (len(pos), len(neg))
    back = Calibration(**{k: v for k, v in json.loads(json.dumps(cal.to_dict())).items() if k != "features"})
    np.testing.assert_allclose(back.confidence(neg), conf_neg)
    path = cal.save(tmp_path / "cal.json")
    assert json.loads(path.read_text())["features"] == ["top1", "margin10", "zscore"]


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
