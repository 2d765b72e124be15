"""The attribution stage: untrained copies over seeds, pairs dropped by reason (the IG error among them), the per-block
evidence and when it is within noise."""

import dataclasses

import numpy as np
import pytest

from negscope.attribution import LayerAttribution
from negscope.data.negation import TEMPLATE_NAMES
from negscope.data.records import Dataset, ImageRecord, ObjectAnn
from negscope.experiments.attribute import (
    NO_PRESENCE,
    UNEQUAL_LENGTH,
    WITHIN_ERROR,
    attribution_evidence,
    format_summary,
    presence_pairs,
    run_attribution,
)
from negscope.experiments.config import AttributionConfig, Common
from negscope.results import AttributionResult

BOX = (0.0, 0.0, 1.0, 1.0)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("attribution")
    run_attribution(Common(model="tiny", data="world", evidence_resamples=50), AttributionConfig(limit=6, steps=4, examples=1),
                    out, progress=False)
    return AttributionResult.load(out)


def test_presence_pairs_count_what_they_drop_by_reason(tiny):
    records = [
        ImageRecord(0, ["a red circle next to a blue square"], [ObjectAnn("red circle", BOX), ObjectAnn("blue square", BOX)]),
        ImageRecord(1, ["red circle"], [ObjectAnn("red circle", BOX)]),  # "no red circle" is a token longer
        ImageRecord(2, ["an empty field"], []),  # no objects: no presence negation
    ]
    rows, pos, neg, dropped = presence_pairs(tiny, Dataset("crafted", records, ["red circle", "blue square", "green cross"]), 0)
    assert (rows, pos, neg) == ([0], ["a red circle next to a blue square"], ["a red circle next to no blue square"])
    assert dropped == {NO_PRESENCE: 1, UNEQUAL_LENGTH: 1}


def test_the_result_holds_every_copy_the_evidence_and_the_caveats(result):
    assert len(result.untrained) == 3 and result.evidence.untrained_seeds == [0, 1, 2]
    assert result.to_dict()["schema"] == 2 and "completeness error" in result.noise
    for sites in (result.sites, *result.untrained):
        assert sites.requested == 6 == sites.n_pairs + sum(sites.dropped.values())
        assert sites.n_pairs == sum(sites.per_pair.kept) and len(sites.per_pair.kept) == len(sites.captions)
        low, high = sites.gap_ci
        assert low <= sites.mean_gap <= high and sites.mean_gap == pytest.approx(np.mean(sites.per_pair.gap))
    ev = result.evidence
    assert ev.images == len(result.sites.captions) and len(ev.gain) == len(result.sites.blocks) and len(ev.draws) == 50
    kept = np.array(result.sites.per_pair.kept)
    own = np.array(result.sites.per_pair.eos_share)[kept].mean(0)
    np.testing.assert_allclose(ev.trained, own[1:] - own[:-1])
    assert list(result.tokens.baseline_gap) == list(TEMPLATE_NAMES)
    for template, gap in result.tokens.baseline_gap.items():
        mine = [r["score"] - r["baseline_score"] for r in result.tokens.attributions if r["template"] == template]
        assert gap.n == len(mine) == 6 and gap.mean == pytest.approx(np.mean(mine))


def _layer(gap, delta, eos_share) -> LayerAttribution:
    sites = ["text.embed", "text.block.0", "text.block.1"]
    eos_share = np.asarray(eos_share, dtype=float)
    return LayerAttribution(sites, np.asarray(gap, dtype=float), eos_share, np.tile(np.asarray(delta, float)[:, None], (1, 3)),
                            eos_share, eos_share)


def test_pairs_within_the_integration_error_do_not_count_as_evidence():
    common = Common(evidence_resamples=20)
    shares = [[0, 0.9, 1], [0, 0.9, 1], [0, 0.0, 1]]  # the third pair's gap is no larger than its IG error
    model = _layer([0.2, -0.3, 1e-4], [1e-5, 1e-5, 2e-4], shares)
    copy = _layer([0.2, 0.2, 0.2], [1e-5] * 3, [[0, 0.5, 1]] * 3)
    assert model.resolved.tolist() == [True, True, False]
    ev = attribution_evidence([model, copy], [10, 11, 12], common)
    np.testing.assert_allclose(ev.trained, [0.9, 0.1])  # with the third pair it would be [0.6, 0.4]
    np.testing.assert_allclose(ev.gain, [0.4, -0.4])


def test_the_summary_says_when_pairs_were_dropped_or_the_evidence_is_noise(result):
    def summary(dropped, ci_low, copy_dropped=None):
        sites = dataclasses.replace(result.sites, dropped=dropped)
        copies = [dataclasses.replace(u, dropped=copy_dropped if copy_dropped is not None else dropped)
                  for u in result.untrained]
        ev = dataclasses.replace(result.evidence, ci_low=[ci_low] * 4, ci_high=[1.0] * 4)
        return format_summary(dataclasses.replace(result, sites=sites, untrained=copies, evidence=ev)).splitlines()

    assert len(summary({}, 0.1)) == 3
    lines = summary({UNEQUAL_LENGTH: 2}, 0.1)
    assert lines[-1] == (f"caveat: Per-site attribution kept {result.sites.n_pairs} of {result.sites.requested} pairs "
                         f"({UNEQUAL_LENGTH}: 2).")
    (caveat,) = summary({}, -0.1)[3:]
    assert "No block's attribution gain over the 3 untrained copies" in caveat and "not evidence" in caveat
    copy_lines = summary({}, 0.1, {WITHIN_ERROR: 1})[3:]
    assert len(copy_lines) == 3 and "on untrained copy 0 kept" in copy_lines[0] and WITHIN_ERROR in copy_lines[0]
