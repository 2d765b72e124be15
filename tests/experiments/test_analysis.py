"""The analysis context: one model, copies and split per run when shared, a fresh one per stage otherwise."""

from negscope.experiments.analysis import Analysis, shared_analysis
from negscope.experiments.config import Common


def test_stages_share_one_context_inside_a_run_and_not_outside(tmp_path, monkeypatch):
    import negscope.models

    loads = []
    real = negscope.models.load_bundle
    monkeypatch.setattr(negscope.models, "load_bundle", lambda spec: loads.append(spec) or real(spec))
    common = Common(model="tiny", data="world:4", cache=str(tmp_path / "cache"))
    with shared_analysis(common, tmp_path) as shared:
        first, second = Analysis.open(common, tmp_path / "probes"), Analysis.open(common, tmp_path / "patching")
        assert first is second is shared
        assert first.bundle is second.bundle and first.copy(1) is second.copy(1)
        assert first.dataset(2) is second.dataset(2) and len(first.dataset(2)) == 2
        assert loads == ["tiny"]
        other = Analysis.open(Common(model="tiny", data="world:4", seed=1, cache=str(tmp_path / "cache")), tmp_path)
        assert other is not shared  # other settings get their own context
        copy = shared.copy(1)
        shared.release()  # what a stage that is not an analysis stage does first
        assert shared.copy(1) is not copy and loads == ["tiny", "tiny"]
    alone = Analysis.open(common, tmp_path / "probes")
    assert alone is not shared and alone.cache == tmp_path / "cache"
    assert alone.copy(0).spec != alone.bundle.spec and alone.copy_seeds == [0, 1, 2]


def test_building_a_copy_leaves_the_stage_random_numbers_alone():
    import torch

    from negscope.models import tiny_bundle

    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    copy = tiny_bundle(seed=1).untrained_copy(2)  # built here, reused in a shared context: the same draws after either
    assert torch.equal(torch.rand(3), expected)
    again = tiny_bundle(seed=1).untrained_copy(2)
    assert all(torch.equal(a, b) for a, b in zip(copy.model.parameters(), again.model.parameters()))
