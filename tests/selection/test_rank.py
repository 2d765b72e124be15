import json

import numpy as np
import pytest

from negscope.results import Divergence, ProbesResult, Score, SelectionResult, SiteScore, TaskProbes
from negscope.selection import Evidence, gather_evidence, rank_blocks
from negscope.selection.rank import choose, probe_gains

SITES = ["text.embed", "text.block.0", "text.block.1"]


def _evidence(seed: int = 0) -> Evidence:
    rng = np.random.default_rng(seed)
    n_pairs, n_blocks = 40, 6
    # attribution: block 1 moves most of the gap onto EOS; noise per pair
    attribution = np.tile([0.1, 0.5, 0.1, 0.1, 0.1, 0.1], (n_pairs, 1)) + rng.normal(0, 0.05, (n_pairs, n_blocks))
    gap = rng.choice([-1.0, 1.0], n_pairs) * rng.uniform(0.05, 0.2, n_pairs)
    curve = np.array([0, 0.05, 0.6, 0.7, 0.8, 0.9, 1.0])
    effect = gap[:, None] * (curve + rng.normal(0, 0.05, (n_pairs, n_blocks + 1)))
    probes = np.array([0.3, 0.1, 0.0, -0.1, 0.0, 0.0])
    return Evidence(n_blocks, attribution, [(effect, gap)], probes)


def test_selection_is_deterministic_for_a_fixed_seed():
    ev = _evidence()
    a, b = rank_blocks(ev, seed=3, resamples=50), rank_blocks(ev, seed=3, resamples=50)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert SelectionResult.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    c = rank_blocks(ev, seed=4, resamples=50)
    assert c.blocks == a.blocks  # the plan uses all pairs; only the stability check depends on the seed


def test_ranking_and_front_plan_follow_the_combined_score():
    sel = rank_blocks(_evidence(), coverage=0.5, resamples=20)
    combined = np.array(sel.evidence.combined)
    assert np.isclose(combined.sum(), 1)
    assert sel.ranking[0].block == 1 and sel.ranking[0].name == "text.block.1"
    assert set(sel.ranking[0].by_kind) == {"probes", "attribution", "patching"}
    assert sel.blocks == [0, 1]
    assert sel.evidence.coverage_of_plan >= 0.5
    assert combined[: sel.blocks[-1]].sum() < 0.5
    assert set(sel.evidence.kinds) == {"probes", "attribution", "patching"}


def test_rules_front_and_top():
    scores = np.array([0.05, 0.1, 0.5, 0.05, 0.3])
    assert choose(scores, 0.5, "front") == [0, 1, 2]
    assert choose(scores, 0.5, "top") == [2]
    assert choose(scores, 0.8, "top") == [2, 4]
    assert choose(scores, 1.0, "front") == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="rule 'back' is unknown"):
        rank_blocks(_evidence(), rule="back")


def _task(selectivity: list[float]) -> TaskProbes:
    rows = [SiteScore(s, 0.5 + v, 0.4, 0.9, 0.5, v, 1.0) for s, v in zip(SITES, selectivity)]
    return TaskProbes(samples=10, groups=5, chance=0.5, sites=rows, classes=["a", "b"])


def test_probe_gains_average_selectivity_rises_over_tasks():
    scope = _task([0, 0.4, 0.4])
    scope.sites.reverse()
    probes = ProbesResult(model="m", data="d", images=1, settings={}, tasks={"negated": _task([0, 0.2, 0.5]), "scope": scope},
                          divergence=[Divergence("text.embed", 1.0)], seconds=0.0, threads=1)
    np.testing.assert_allclose(probe_gains(probes, 2), [0.3, 0.15])


def test_missing_evidence_is_named():
    with pytest.raises(FileNotFoundError, match="run `negscope attribute`"):
        gather_evidence()
    with pytest.raises(FileNotFoundError, match="run `negscope attribute`"):
        gather_evidence(probes=ProbesResult("m", "d", 1, {}, {}, [], 0.0, 1))


def test_evidence_counts_only_its_gain_over_the_untrained_copy():
    ev = _evidence()
    plain = rank_blocks(ev, resamples=0)
    assert plain.over_untrained
    # an untrained copy whose attribution shows the same block-1 bump: only the other kinds still point there
    ev.untrained["attribution"] = ev.attribution.mean(0)
    ev.erasure = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.4])
    sel = rank_blocks(ev, resamples=0)
    assert "attribution" not in sel.evidence.kinds and "erasure" in sel.evidence.kinds
    assert sel.ranking[0].by_kind["erasure"] == 0 or sel.ranking[0].block == 5
    assert sel.evidence.scores["erasure"][5] == pytest.approx(1.0)


def test_without_any_gain_over_the_untrained_copy_the_selection_says_so():
    ev = _evidence()
    ev.probes = None
    ev.untrained = {"attribution": ev.attribution.mean(0) + 1.0, "patching": np.ones(6)}
    sel = rank_blocks(ev, resamples=0)
    assert not sel.over_untrained and "not evidence of learned negation" in sel.rule
    assert sel.blocks  # still a plan, ranked on the model's own gains


def test_a_probe_task_a_surface_baseline_beats_everywhere_is_left_out():
    beaten, kept = _task([0, 0.2, 0.5]), _task([0, 0.4, 0.4])
    beaten.baselines = {"bigrams": Score(1.0, 0.99, 1.0, "bigram counts")}
    kept.baselines = {"bigrams": Score(0.8, 0.7, 0.9, "bigram counts")}
    assert beaten.beaten_by() == "bigrams" and kept.beaten_by() is None
    assert kept.beaten_by(_task([0, 0, 0])) == "bigrams"  # another sweep of the task (e.g. at the object's token)
    probes = ProbesResult(model="m", data="d", images=1, settings={}, tasks={"negated": beaten, "scope": kept},
                          divergence=[], seconds=0.0, threads=1)
    excluded = {}
    np.testing.assert_allclose(probe_gains(probes, 2, excluded), [0.4, 0.0])
    assert list(excluded) == ["probes: negated"] and "bigrams baseline (1.000)" in excluded["probes: negated"]
    kept.baselines["bigrams"] = Score(0.9, 0.8, 1.0)
    assert probe_gains(probes, 2) is None
