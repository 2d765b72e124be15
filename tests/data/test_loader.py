from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from negscope.data import world_dataset
from negscope.data.loader import MAX_WORKERS, image_batches, loader_workers


def test_workers_start_only_for_passes_longer_than_two_batches():
    assert loader_workers(128, 64) == 0
    assert 1 <= loader_workers(129, 64) <= MAX_WORKERS


def test_a_worker_process_loads_in_process():
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        assert pool.submit(loader_workers, 10_000, 64).result() == 0


def test_batches_from_workers_keep_the_records_order():
    records = list(world_dataset(10))
    batches = list(image_batches(records, np.stack, batch_size=3, workers=2))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert np.array_equal(np.concatenate([np.asarray(b) for b in batches]), np.stack([r.load_pixels() for r in records]))
