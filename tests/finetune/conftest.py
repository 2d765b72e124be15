import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    # tiny models run fastest on one thread, and far faster than on oversubscribed shared cores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
