"""`negscope erase` end to end on the tiny model: the real eraser beside its controls and untrained copies, what
else erasure breaks, the amnesic check, and the evidence in the shape the selection reads."""

import json

import numpy as np

from negscope.cli import main
from negscope.models.sites import block_gains
from negscope.results import ErasureResult
from negscope.results.evidence import BlockEvidence


def test_erase_writes_controls_copies_changes_and_evidence(tmp_path, capsys):
    assert main(["erase", "--model", "tiny", "--limit", "10", "--n-boot", "20", "--untrained-copies", "2",
                 "--evidence-resamples", "15", "--out", str(tmp_path)]) == 0
    assert "text.block.3: removed" in capsys.readouterr().out
    res = ErasureResult.load(tmp_path)
    assert res.sites == ["text.embed"] + [f"text.block.{k}" for k in range(4)] == [p.site for p in res.points]
    assert (res.fit_images, res.eval_images) == (5, 5) and res.pairs["presence"] == res.pairs["absence"] == 10
    assert res.untrained_seeds == [0, 1] and res.probe_captions == 40
    for p in res.points:
        for share in (p.leace, p.random, p.shuffled, p.over_untrained):
            assert share.ci_low <= share.ci_high
        assert len(p.untrained) == 2 and np.isclose(p.untrained_mean, np.mean(p.untrained))
        assert np.isclose(p.over_untrained.share, p.leace.share - p.untrained_mean)
        for change in (p.presence, p.absence, p.swap, p.i2t_r1, p.t2i_r1):
            assert 0 <= change.before <= 1 and np.isclose(change.change, change.after - change.before)
            assert change.ci_low <= change.change <= change.ci_high
        assert p.amnesic.before_ci[0] <= p.amnesic.before <= p.amnesic.before_ci[1] and 0.5 <= p.amnesic.chance <= 1
    assert len({p.presence.before for p in res.points}) == 1  # every site is compared with the same unerased model

    ev = res.evidence
    assert isinstance(ev, BlockEvidence) and ev.untrained_seeds == [0, 1] and ev.images == 5
    assert len(ev.draws) == 15 and ev.rows == 20
    np.testing.assert_allclose(ev.trained, block_gains(res.sites, [p.leace.share for p in res.points]), atol=1e-6)
    np.testing.assert_allclose(ev.untrained_mean, block_gains(res.sites, [p.untrained_mean for p in res.points]), atol=1e-6)
    assert (tmp_path / "erasure.png").stat().st_size > 1000
    assert json.loads((tmp_path / "erasure.json").read_text())["schema"] == 2
