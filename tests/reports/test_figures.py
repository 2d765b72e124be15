from negscope.reports.attribution_figures import negation_share_bars
from negscope.reports.figures import site_label, site_ticks
from negscope.reports.probe_figures import probe_figure
from negscope.results import MeanCI, Score, SiteScore, TaskProbes


def test_small_shares_get_an_axis_of_their_own_scale(tmp_path):
    shares = {"not": MeanCI(0.02, 0.01, 0.036, 10), "caption": MeanCI(0.0, 0.0, 0.0, 10)}
    ax = negation_share_bars(shares, tmp_path / "bars.png", "t").axes[0]
    low, high = ax.get_ylim()
    assert low <= 0 and 0.036 < high < 0.05


def test_a_baseline_at_one_is_drawn_inside_the_frame(tmp_path):
    sites = ["text.embed", "text.block.0", "text.block.1"]
    rows = [SiteScore(s, 0.8, 0.75, 0.85, 0.55, 0.2, 1.0, untrained_accuracy=0.9, untrained_ci_low=0.85,
                      untrained_ci_high=0.95) for s in sites]
    task = TaskProbes(samples=10, groups=5, chance=0.5, sites=rows, classes=["a", "b"],
                      baselines={"bag_of_words": Score(1.0, 1.0, 1.0)})
    low, high = probe_figure("negated", task, tmp_path / "probe.png").axes[0].get_ylim()
    assert high > 1.0 + 0.01 and 0.4 < low < 0.5


def test_sites_are_numbered_alike_everywhere():
    names = ["text.embed", "text.block.0", "text.block.11"]
    assert [site_label(n) for n in names] == ["embed", "0", "11"] == site_ticks(names)[1]
