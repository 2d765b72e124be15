import json

import numpy as np
import pytest

from negscope.results import ProbesResult, SelectionResult
from negscope.results.evidence import BlockEvidence
from negscope.selection import Evidence, gather_evidence, rank_blocks
from negscope.selection.rank import choose


def _kind(draws: np.ndarray, trained: list[float] | None = None, seed: int = 0) -> BlockEvidence:
    """A kind's evidence whose gain and 95% interval come from `draws` (resamples × blocks)."""
    draws = np.asarray(draws, dtype=float)
    gain = draws.mean(0)
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    trained = gain.tolist() if trained is None else trained
    return BlockEvidence("test", 50, 100, [0, 1, 2], gain.tolist(), low.tolist(), high.tolist(), trained,
                         [[0.0] * len(gain)] * 3, draws.tolist(), seed)


def _noisy(center: list[float], sd: float, resamples: int = 200, seed: int = 0) -> np.ndarray:
    return np.asarray(center) + np.random.default_rng(seed).normal(0, sd, (resamples, len(center)))


def test_a_kind_whose_draws_straddle_zero_gets_weight_zero():
    certain = _kind(_noisy([0.05, 0.5, 0.05, 0.0], 0.01))
    noise = _kind(_noisy([0.0, 0.0, 0.0, 0.3], 0.5, seed=1))  # a large gain at block 3, but its interval holds 0
    sel = rank_blocks(Evidence({"attribution": noise, "patching": certain}), coverage=0.5, rule="top")
    rec = sel.evidence.by_kind
    assert rec["attribution"].ci_low[3] < 0 < rec["attribution"].ci_high[3]
    assert not rec["attribution"].entered and rec["attribution"].weight == 0 and "within noise" in rec["attribution"].reason
    assert rec["patching"].entered and rec["patching"].weight == 1 and rec["patching"].counted == [True, True, True, False]
    assert sel.evidence.kinds == ["patching"] and sel.evidence.within_noise == ["attribution"]
    assert sel.evidence.combined[3] == 0 and sel.blocks == [1]  # weighting the noise would have put block 3 in the plan
    assert sel.certain and sel.evidence.stability.inclusion[1] == 1


def test_a_kind_certain_only_below_zero_does_not_enter():
    below = _kind(_noisy([-0.3, 0.0, 0.0, 0.0], 0.01))
    sel = rank_blocks(Evidence({"probes": below, "patching": _kind(_noisy([0.1, 0.5, 0.1, 0.1], 0.01))}))
    assert below.certain[0] and not sel.evidence.by_kind["probes"].entered and sel.evidence.kinds == ["patching"]


def test_stability_is_below_one_when_two_blocks_overlap():
    sel = rank_blocks(Evidence({"patching": _kind(_noisy([0.05, 0.5, 0.5, 0.05], 0.1))}), coverage=0.5, rule="top")
    inclusion = sel.evidence.stability.inclusion
    assert sel.evidence.stability.resamples == 200
    assert 0 < inclusion[1] < 1 and 0 < inclusion[2] < 1 and inclusion[1] + inclusion[2] == pytest.approx(1)


def test_stability_resamples_every_kind_together():
    steady = _kind(np.tile([0.5, 0.0, 0.5, 0.0], (100, 1)))  # alone it always keeps block 0 (ties: the earlier block)
    share = np.random.default_rng(0).uniform(0.2, 0.8, 100)
    swaying = _kind(np.stack([share, np.zeros(100), 1 - share, np.zeros(100)], 1))
    alone = rank_blocks(Evidence({"attribution": steady}), coverage=0.5, rule="top").evidence.stability.inclusion
    both = rank_blocks(Evidence({"attribution": steady, "patching": swaying}), coverage=0.5, rule="top").evidence.stability
    assert alone[0] == 1 and alone[2] == 0
    assert both.inclusion[2] == pytest.approx(np.mean(share < 0.5)) and 0 < both.inclusion[2] < 1


def test_the_selection_is_deterministic_and_round_trips():
    ev = Evidence({"patching": _kind(_noisy([0.05, 0.5, 0.4, 0.05], 0.1)), "probes": _kind(_noisy([0.3, 0.1, 0, 0], 0.05))})
    a, b = rank_blocks(ev), rank_blocks(ev)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert SelectionResult.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    assert (a.to_dict()["schema"], set(a.evidence.kinds)) == (2, {"patching", "probes"})
    assert a.evidence.by_kind["probes"].weight == a.evidence.by_kind["patching"].weight == 0.5
    assert np.isclose(sum(a.evidence.combined), 1) and a.evidence.coverage_of_plan >= 0.5


def test_rules_front_top_and_window():
    scores = np.array([0.05, 0.1, 0.5, 0.05, 0.3])
    assert choose(scores, 0.5, "front") == [0, 1, 2]
    assert choose(scores, 0.5, "top") == [2]
    assert choose(scores, 0.8, "top") == [2, 4]
    assert choose(scores, 1.0, "front") == [0, 1, 2, 3, 4]
    assert choose(scores, 0.5, "window") == [2]
    assert choose(scores, 0.8, "window") == [2, 3, 4]  # 0.85 in a row; [1, 2, 3] holds only 0.65
    assert choose(scores, 0.5, "front", size=2) == [0, 1]
    assert choose(scores, 0.5, "top", size=2) == [2, 4]
    assert choose(scores, 0.5, "window", size=2) == [1, 2]  # 0.6 against [2, 3] at 0.55


def test_a_size_is_recorded_and_checked():
    ev = Evidence({"patching": _kind(_noisy([0.05, 0.1, 0.5, 0.3], 0.01))})
    sel = rank_blocks(ev, rule="window", size=2)
    assert sel.blocks == [2, 3] and sel.size == 2 and sel.rule.startswith("window (size 2): the 2 text blocks in a row")
    assert len(sel.evidence.stability.inclusion) == 4 and sum(sel.evidence.stability.inclusion) == pytest.approx(2)
    with pytest.raises(ValueError, match="size 5 must be between 0"):
        rank_blocks(ev, size=5)
    with pytest.raises(ValueError, match="rule 'back' is unknown"):
        rank_blocks(Evidence({"patching": _kind(_noisy([0.1, 0.5], 0.01))}), rule="back")


def test_without_any_certain_kind_the_selection_falls_back_and_says_so():
    ev = Evidence({"attribution": _kind(_noisy([0.0, 0.1, 0.0], 0.5), trained=[0.1, 0.2, 0.7]),
                   "patching": _kind(_noisy([0.0, 0.0, 0.1], 0.5, seed=2), trained=[0.1, 0.2, 0.7])})
    sel = rank_blocks(ev, coverage=0.5, rule="front")
    assert not sel.certain and "not evidence of learned negation" in sel.rule
    assert sel.evidence.kinds == [] and sel.evidence.within_noise == ["attribution", "patching"]
    assert sel.blocks == [0, 1, 2] and sel.evidence.combined == pytest.approx([0.1, 0.2, 0.7])  # the model's own gains
    assert sel.evidence.stability.resamples == 0


def _probes(evidence=None, excluded=None) -> ProbesResult:
    return ProbesResult("m", "d", 1, {}, {}, [], 0.0, 1, evidence=evidence, excluded=excluded or {})


def test_gather_evidence_reads_each_kinds_field_and_names_what_is_missing():
    with pytest.raises(FileNotFoundError, match="run `negscope attribute`"):
        gather_evidence()
    with pytest.raises(FileNotFoundError, match="run `negscope attribute`"):
        gather_evidence(probes=_probes())  # a result without evidence counts as missing
    four, three = _kind(_noisy([0.1] * 4, 0.01)), _kind(_noisy([0.1] * 3, 0.01))
    with pytest.raises(ValueError, match="disagrees on the number of text blocks"):
        gather_evidence(probes=_probes(four), patching=_stub(three))
    ev = gather_evidence(probes=_probes(four, {"negated": "uninformative: bigrams"}), sources={"probes": "p.json", "erasure": "x"})
    assert list(ev.kinds) == ["probes"] and ev.sources == {"probes": "p.json"}
    assert ev.excluded == {"probes: negated": "uninformative: bigrams"}
    assert rank_blocks(ev).evidence.missing == ["attribution", "patching", "erasure"]


def _stub(evidence: BlockEvidence) -> object:
    """Any object with an `evidence` field stands in for a result."""
    return type("Stub", (), {"evidence": evidence})()


def test_without_draws_there_is_no_stability_to_report():
    e = _kind(_noisy([0.1, 0.5], 0.01))
    e.draws = []
    assert rank_blocks(Evidence({"patching": e})).evidence.stability.inclusion == []


def test_the_select_stage_reads_a_result_type_for_every_kind():
    from negscope.experiments.select import EVIDENCE_RESULTS
    from negscope.results.evidence import KINDS

    assert tuple(EVIDENCE_RESULTS) == KINDS
