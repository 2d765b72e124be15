"""Prefix trees of token sequences: every sequence recoverable from its last node, shared prefixes stored once."""

import pytest
import torch

from negscope.models.packing import pack_prefixes, packed_batches

SEQUENCES = [[1, 5, 6, 2], [1, 5, 7, 2], [1, 5, 6, 8, 2], [1, 9, 2], [1, 5, 6, 2], [3, 4]]


def _path(row, node):
    out = []
    while node >= 0:
        out.append(row.tokens[node])
        node = row.parents[node]
    return out[::-1]


def test_every_sequence_is_the_path_to_its_last_node():
    rows = pack_prefixes(SEQUENCES, width=8)
    found = {s: _path(r, e) for r in rows for s, e in zip(r.sequences, r.ends)}
    assert found == dict(enumerate(SEQUENCES))
    assert all(len(r.tokens) <= 8 for r in rows)
    assert all(r.depths[n] == len(_path(r, n)) - 1 for r in rows for n in range(len(r.tokens)))


def test_shared_prefixes_are_stored_once_and_duplicates_share_their_node():
    rows = pack_prefixes(SEQUENCES, width=32)
    assert len(rows) == 1 and len(rows[0].tokens) == 12  # 26 tokens; [1, 5, 6] and [1, 5] shared, one duplicate
    ends = dict(zip(rows[0].sequences, rows[0].ends))
    assert ends[0] == ends[4]


def test_a_row_never_exceeds_its_width_and_bad_sequences_are_named():
    rows = pack_prefixes(SEQUENCES, width=5)
    assert all(len(r.tokens) <= 5 for r in rows) and sorted(s for r in rows for s in r.sequences) == list(range(6))
    with pytest.raises(ValueError, match="sequence 1 has 4 tokens; pack sequences of 1 to 3"):
        pack_prefixes([[1], [1, 2, 3, 4]], width=3)
    with pytest.raises(ValueError, match="sequence 0 has 0 tokens"):
        pack_prefixes([[]], width=3)


def test_a_batch_masks_each_node_to_its_ancestors_and_padding_to_itself():
    rows = pack_prefixes(SEQUENCES, width=8)
    (batch,) = packed_batches(rows, pad_id=0, max_nodes=100)
    for b, row in enumerate(rows):
        for n in range(len(row.tokens)):
            ancestors, node = set(), n
            while node >= 0:
                ancestors.add(node)
                node = row.parents[node]
            assert set(torch.nonzero(batch.mask[b, n]).flatten().tolist()) == ancestors
        assert batch.position_ids[b, : len(row.tokens)].tolist() == row.depths
    padding = batch.input_ids == 0
    assert padding.any() and batch.mask[padding].sum(-1).eq(1).all()
    assert [SEQUENCES[s][-1] for s in batch.sequences] == batch.input_ids[batch.rows, batch.ends].tolist()


def test_batches_hold_at_most_max_nodes_but_at_least_a_row():
    rows = pack_prefixes(SEQUENCES, width=5)
    batches = list(packed_batches(rows, pad_id=0, max_nodes=6))
    assert len(batches) > 1 and sorted(torch.cat([b.sequences for b in batches]).tolist()) == list(range(6))
    assert all(len(b.input_ids) == 1 or b.input_ids.ne(0).sum() <= 6 for b in batches)
    assert len(list(packed_batches(rows, pad_id=0, max_nodes=1))) == len(rows)
