import json
import shutil

import numpy as np
import pytest

from negscope.cli import main
from negscope.experiments.report import write_report
from negscope.results import HEAD_MEASURES, AttributionResult, HeadsResult, PatchingResult, SelectionResult


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("analysis")
    base = ["--model", "tiny", "--data", "world", "--out", str(out), "--evidence-resamples", "40"]
    assert main(["attribute", *base, "--limit", "4", "--steps", "4", "--examples", "2"]) == 0
    assert main(["patch", *base, "--limit", "6"]) == 0
    assert main(["select", "--from", str(out)]) == 0
    assert main(["heads", *base, "--limit", "6"]) == 0
    return out


def test_attribute_patch_select_write_their_files(run_dir):
    for name in ("attribution.json", "token_negation_share.png", "layer_attribution.png", "token_heatmap.html",
                 "patching.json", "patching.png", "selection.json", "selection.png"):
        assert (run_dir / name).stat().st_size > 0, name
    att = json.loads((run_dir / "attribution.json").read_text())
    assert att["tokens"]["n_texts"] == 4 * 7 and len(att["sites"]["blocks"]) == 4
    assert att["sites"]["sites"] == [r["site"] for r in att["sites"]["states"]] == ["text.embed"] + [f"text.block.{k}" for k in range(4)]
    assert [(b["block"], b["name"]) for b in att["sites"]["blocks"]] == [(k, f"text.block.{k}") for k in range(4)]
    assert att["tokens"]["negation_share"]["this_is_not"]["mean"] > 0
    shares = att["tokens"]["negation_share"]
    assert shares["caption"]["mean"] < shares["this_is_not"]["mean"]
    assert "<span" in (run_dir / "token_heatmap.html").read_text()
    pat = json.loads((run_dir / "patching.json").read_text())
    assert pat["sites"] == [r["site"] for r in pat["curves"]["eos"]["forward"]] == att["sites"]["sites"]
    assert set(pat["curves"]["eos"]) == {"forward", "reverse"} and pat["curves"]["eos"]["forward"][-1]["share"] == pytest.approx(1)
    sel = json.loads((run_dir / "selection.json").read_text())
    assert (sel["kind"], sel["schema"]) == ("selection", 2)
    assert set(sel) >= {"blocks", "ranking", "evidence", "rule", "certain"} and "layers" not in sel
    assert sel["blocks"] and all(0 <= k < 4 for k in sel["blocks"])
    assert all(r["name"] == f"text.block.{r['block']}" for r in sel["ranking"])
    assert sel["evidence"]["missing"] == ["probes", "erasure"]
    # both kinds measured on three untrained copies, on the same images, with draws that line up
    assert len(att["untrained"]) == 3 and len(pat["untrained_curves"]) == len(pat["untrained_runs"]) == 3
    assert att["evidence"]["untrained_seeds"] == pat["evidence"]["untrained_seeds"] == [0, 1, 2]
    assert len(att["evidence"]["draws"]) == len(pat["evidence"]["draws"]) == 40
    for kind in ("attribution", "patching"):
        rec = sel["evidence"]["by_kind"][kind]
        assert rec["gain"] == json.loads((run_dir / f"{kind}.json").read_text())["evidence"]["gain"]
        assert rec["entered"] == any(lo > 0 for lo in rec["ci_low"]) and (rec["weight"] > 0) == rec["entered"]
        assert (kind in sel["evidence"]["kinds"]) == rec["entered"] != (kind in sel["evidence"]["within_noise"])
    assert sel["certain"] == bool(sel["evidence"]["kinds"])
    assert sel["evidence"]["stability"]["resamples"] == (40 if sel["certain"] else 0)
    for cls in (AttributionResult, PatchingResult, SelectionResult):
        assert cls.load(run_dir).to_dict() == json.loads(cls.path(run_dir).read_text())


def test_select_without_evidence_fails_with_a_hint(tmp_path, capsys):
    assert main(["select", "--from", str(tmp_path)]) == 2
    assert "run `negscope attribute`" in capsys.readouterr().err


def test_heads_measures_every_head_against_the_untrained_copies_and_the_report_shows_the_map(run_dir, tmp_path):
    res = HeadsResult.load(run_dir)
    assert (res.blocks, res.heads, res.n_pairs, res.untrained_seeds) == (4, 2, 6, [0, 1, 2])
    assert set(res.maps) == set(HEAD_MEASURES)
    for m in res.maps.values():
        diff, low, high = (np.asarray(g) for g in (m.difference, m.ci_low, m.ci_high))
        assert diff.shape == (4, 2)
        np.testing.assert_allclose(diff, np.asarray(m.model) - np.asarray(m.untrained))
        assert np.all((low <= diff + 1e-12) & (diff <= high + 1e-12))
    assert (run_dir / "heads.png").stat().st_size > 0
    assert len((run_dir / "heads.csv").read_text().splitlines()) == 1 + len(HEAD_MEASURES) * 4 * 2
    top = res.top("patching", 1)[0]
    assert top.difference == max(max(row) for row in res.maps["patching"].difference)
    root = tmp_path / "run"
    shutil.copytree(run_dir, root / "heads")
    write_report(root)
    md = (root / "report.md").read_text()
    assert "## Which attention heads carry negation?" in md and f"| patching | {top.block}.{top.head} |" in md
    assert "heads.png" in md
