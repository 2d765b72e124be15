"""The one resampling module: whole images are resampled, the same draws serve every statistic, paired changes."""

import numpy as np
import pytest

from negscope.stats import bootstrap, image_draws, mean_interval, paired_change, within_noise


def test_bootstrap_resamples_images_not_rows():
    # 50 images with 4 identical rows each: resampling images gives a wider interval than resampling rows would
    rng = np.random.default_rng(0)
    per_image = rng.normal(size=50)
    values, images = np.repeat(per_image, 4), np.repeat(np.arange(50), 4)
    lo_img, hi_img = mean_interval(values, images)
    lo_row, hi_row = mean_interval(values, len(values))
    assert hi_img - lo_img > 1.6 * (hi_row - lo_row)


def test_general_and_fast_path_agree():
    rng = np.random.default_rng(1)
    values, images = rng.random(300), rng.integers(0, 40, 300)
    fast = mean_interval(values, images, resamples=300, seed=3)
    slow = bootstrap(lambda rows: values[rows].mean(), images, resamples=300, seed=3)
    assert np.allclose(fast, [float(slow[0]), float(slow[1])])


def test_each_resample_brings_all_rows_of_its_images():
    images = np.array([5, 5, 5, 9, 2, 2])
    seen = []
    bootstrap(lambda rows: seen.append(np.sort(rows)) or 0.0, images, resamples=20, seed=0)
    sizes = {5: 3, 9: 1, 2: 2}
    for rows in seen:
        counts = np.bincount(images[rows], minlength=10)
        for image, size in sizes.items():
            assert counts[image] % size == 0


def test_draws_are_fixed_by_seed():
    assert (image_draws(30, 10, 4) == image_draws(30, 10, 4)).all()
    assert not (image_draws(30, 10, 4) == image_draws(30, 10, 5)).all()


def test_paired_change_is_tighter_than_unpaired_and_can_fail():
    rng = np.random.default_rng(2)
    images = np.repeat(np.arange(200), 3)
    hard = np.repeat(rng.random(200), 3)  # images differ a lot in difficulty
    before = (rng.random(600) < hard).astype(float)
    after = np.where(rng.random(600) < 0.05, 1.0, before)  # a small real gain on the same images
    change = paired_change(before, after, images)
    assert change.real and change.ci_low > 0
    lo, hi = mean_interval(before, images)
    assert change.ci_high - change.ci_low < (hi - lo) / 2
    same = paired_change(before, before.copy(), images)
    assert not same.real and same.change == 0


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="same rows"):
        paired_change(np.zeros(3), np.zeros(4), np.arange(3))
    with pytest.raises(ValueError, match="one image id per value"):
        mean_interval(np.zeros(3), np.arange(4))
    assert within_noise(-0.1, 0.2) and not within_noise(0.01, 0.2)


def test_block_evidence_resamples_model_and_copies_together():
    from negscope.results.evidence import BlockEvidence

    sites = ["text.embed", "text.block.0", "text.block.1"]
    rng = np.random.default_rng(0)
    images = np.repeat(np.arange(60), 2)
    trained = rng.normal(size=(120, 3)) + np.array([0.0, 1.0, 1.0])  # block 0 adds 1, block 1 nothing
    copies = [rng.normal(size=(120, 3)) for _ in range(3)]

    def curves(rows):
        return trained[rows].mean(0), [c[rows].mean(0) for c in copies]

    ev = BlockEvidence.measure_curves("test", sites, curves, images, [0, 1, 2], resamples=200)
    assert ev.images == 60 and ev.rows == 120 and len(ev.draws) == 200 and len(ev.untrained) == 3
    assert ev.certain[0] and not ev.certain[1]
    assert ev.ci_low[0] < ev.gain[0] < ev.ci_high[0]
    assert np.allclose(ev.gain, np.array(ev.trained) - np.array(ev.untrained_mean))


def test_block_evidence_counts_the_spread_of_the_untrained_copies():
    from negscope.results.evidence import BlockEvidence

    sites = ["text.embed", "text.block.0"]
    images = np.arange(400)
    trained = np.zeros((400, 2)) + [0.0, 0.3]
    # three copies whose block-0 gain differs a lot from seed to seed; their mean is 0.1 below the model's gain
    copies = [np.zeros((400, 2)) + [0.0, g] for g in (-0.3, 0.3, 0.6)]
    noise = np.random.default_rng(0).normal(scale=0.01, size=(400, 2))

    def curves(rows):
        return (trained + noise)[rows].mean(0), [c[rows].mean(0) for c in copies]

    ev = BlockEvidence.measure_curves("test", sites, curves, images, [0, 1, 2], resamples=300)
    assert ev.gain[0] == pytest.approx(0.1, abs=0.01)
    assert not ev.certain[0]  # resampling images alone would call +0.1 certain; the copies' spread says otherwise


def test_cell_mean_interval_is_the_bootstrap_of_the_mean_over_cells():
    from negscope.stats import cell_mean_interval

    rng = np.random.default_rng(4)
    values, images, cells = rng.random(500), rng.integers(0, 60, 500), rng.integers(0, 5, 500)

    def mean_over_cells(rows):
        sums, sizes = np.bincount(cells[rows], weights=values[rows], minlength=5), np.bincount(cells[rows], minlength=5)
        return (sums[sizes > 0] / sizes[sizes > 0]).mean()

    slow = bootstrap(mean_over_cells, images, resamples=200, seed=2)
    assert np.allclose(cell_mean_interval(values, images, cells, resamples=200, seed=2), [float(slow[0]), float(slow[1])])
