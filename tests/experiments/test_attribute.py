"""The attribution stage's caveats: pairs dropped by reason, the gap's interval and whether it is within noise."""

import dataclasses

import numpy as np
import pytest

from negscope.data.negation import TEMPLATE_NAMES
from negscope.data.records import Dataset, ImageRecord, ObjectAnn
from negscope.experiments.attribute import NO_PRESENCE, UNEQUAL_LENGTH, format_summary, presence_pairs, run_attribution
from negscope.experiments.config import AttributionConfig, Common
from negscope.results import AttributionResult

BOX = (0.0, 0.0, 1.0, 1.0)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("attribution")
    run_attribution(Common(model="tiny", data="world"), AttributionConfig(limit=6, steps=4, examples=1), out, progress=False)
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


def test_the_result_holds_the_caveats(result):
    for sites in (result.sites, result.untrained):
        assert sites.requested == 6 == sites.n_pairs + sum(sites.dropped.values())
        low, high = sites.gap_ci
        assert low <= sites.mean_gap <= high and sites.mean_gap == pytest.approx(np.mean(sites.per_pair.gap))
        assert sites.gap_within_noise == (low <= 0 <= high)
    assert result.untrained.dropped == result.sites.dropped
    assert list(result.tokens.baseline_gap) == list(TEMPLATE_NAMES)
    for template, gap in result.tokens.baseline_gap.items():
        mine = [r["score"] - r["baseline_score"] for r in result.tokens.attributions if r["template"] == template]
        assert gap.n == len(mine) == 6 and gap.mean == pytest.approx(np.mean(mine))


def test_the_summary_says_when_pairs_were_dropped_or_the_gap_is_noise(result):
    def summary(dropped, trained, untrained):
        sites = dataclasses.replace(result.sites, dropped=dropped, gap_within_noise=trained, gap_ci=[-0.01, 0.02])
        copy = dataclasses.replace(result.untrained, gap_within_noise=untrained, gap_ci=[-0.03, 0.04])
        return format_summary(dataclasses.replace(result, sites=sites, untrained=copy)).splitlines()

    assert len(summary({}, False, False)) == 2
    lines = summary({UNEQUAL_LENGTH: 2}, False, False)
    assert lines[-1] == (f"caveat: Per-site attribution kept {result.sites.n_pairs} of {result.sites.requested} pairs "
                         f"({UNEQUAL_LENGTH}: 2).")
    (caveat,) = summary({}, True, False)[2:]
    assert "[95% CI -0.0100, +0.0200]" in caveat and "holds zero" in caveat and "untrained" not in caveat
    (caveat,) = summary({}, False, True)[2:]
    assert "attributed on the untrained copy" in caveat and "+0.0400]" in caveat
    assert len(summary({UNEQUAL_LENGTH: 2}, True, True)) == 5


def test_files_written_before_the_caveats_still_load(result):
    data = result.to_dict()
    for part in ("sites", "untrained"):
        for key in ("requested", "dropped", "gap_ci", "gap_within_noise"):
            del data[part][key]
    del data["tokens"]["baseline_gap"]
    old = AttributionResult.from_dict(data)
    assert (old.sites.requested, old.sites.dropped, old.sites.gap_ci, old.sites.gap_within_noise) == (None, {}, None, None)
    assert old.tokens.baseline_gap == {} and len(format_summary(old).splitlines()) == 2
