"""`negscope erase` end to end on the tiny model, and its result as selection evidence."""

import json

import numpy as np

from negscope.cli import main
from negscope.models.sites import block_gains
from negscope.results import ErasureResult
from negscope.selection import gather_evidence


def test_erase_writes_both_curves_and_feeds_the_selection(tmp_path, capsys):
    assert main(["erase", "--model", "tiny", "--limit", "10", "--n-boot", "20", "--out", str(tmp_path)]) == 0
    assert "text.block.3: removed" in capsys.readouterr().out
    res = ErasureResult.load(tmp_path)
    assert res.sites == ["text.embed"] + [f"text.block.{k}" for k in range(4)]
    assert (res.fit_images, res.eval_images) == (5, 5) and res.pairs == {"presence": 10, "absence": 10}
    for curve in (res.trained, res.untrained):
        assert [p.site for p in curve.points] == res.sites
        for p in curve.points:
            assert p.ci_low <= p.ci_high and 0 <= p.presence_accuracy <= 1
            assert p.presence_drop == curve.presence_accuracy - p.presence_accuracy
    assert (tmp_path / "erasure.png").stat().st_size > 1000
    assert json.loads((tmp_path / "erasure.json").read_text())["kind"] == "erasure"

    ev = gather_evidence(patching=_patching_stub(res.sites), erasure=res)
    trained = block_gains(res.sites, [p.removed_share for p in res.trained.points])
    untrained = block_gains(res.sites, [p.removed_share for p in res.untrained.points])
    np.testing.assert_allclose(ev.erasure - ev.untrained["erasure"], trained - untrained)


def _patching_stub(sites):
    from negscope.results import PatchingResult, PatchRun

    run = PatchRun([0.0, 0.0], [1.0, -1.0], [[0.0] * len(sites), [0.0] * len(sites)])
    return PatchingResult("m", "d", "presence", 0, {"eos": 2}, sites, "", {}, {}, [], {"eos": {"forward": run}}, 0.0)
