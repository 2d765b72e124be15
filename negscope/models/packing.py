"""Texts that share token prefixes, packed as prefix trees so a causal text tower computes each shared prefix once.

In a causal tower a token's states depend only on the tokens before it, so the states of "a dog, without a cat"
and "a dog, with a cat" agree up to "a dog, with". A packed row lays out a prefix tree of token sequences: each
node is one token, placed after its parent, at the position id of its depth, attending to itself and its ancestors
only. The pooled state of a sequence is then the state of its last node, exactly as if it were encoded alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class PackedRow:
    """One row of a prefix tree: per node its token, its parent node (-1 for a root) and its depth; per sequence
    packed here, its index among all sequences and its last node."""

    tokens: list[int]
    parents: list[int]
    depths: list[int]
    sequences: list[int]
    ends: list[int]


@dataclass
class PackedBatch:
    """Rows padded to one width: token ids and position ids (R, T), the attention mask (R, T, T), True where a node
    may attend, and per packed sequence its index, row and last node."""

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    mask: torch.Tensor
    sequences: torch.Tensor
    rows: torch.Tensor
    ends: torch.Tensor


def pack_prefixes(sequences: Sequence[Sequence[int]], width: int) -> list[PackedRow]:
    """Rows of at most `width` nodes holding every sequence (each at most `width` long), in lexicographic order so
    neighbours share the longest prefixes; a sequence equal to one already packed shares its last node."""
    sequences = [list(seq) for seq in sequences]
    rows: list[PackedRow] = []
    row, path, previous = None, [], []
    for i in sorted(range(len(sequences)), key=sequences.__getitem__):
        seq = sequences[i]
        if not seq or len(seq) > width:
            raise ValueError(f"sequence {i} has {len(seq)} tokens; pack sequences of 1 to {width} tokens")
        shared = 0
        if row is not None:
            while shared < min(len(seq), len(previous)) and seq[shared] == previous[shared]:
                shared += 1
            if len(row.tokens) + len(seq) - shared > width:
                row = None
        if row is None:
            row, shared = PackedRow([], [], [], [], []), 0
            rows.append(row)
        start, added = len(row.tokens), len(seq) - shared
        if added:  # the new nodes form a chain below the last shared one
            row.tokens += seq[shared:]
            row.parents += [path[shared - 1] if shared else -1, *range(start, start + added - 1)]
            row.depths += range(shared, len(seq))
        path = path[:shared] + list(range(start, start + added))
        row.sequences.append(i)
        row.ends.append(path[len(seq) - 1])
        previous = seq
    return rows


def packed_batches(rows: Sequence[PackedRow], pad_id: int, max_nodes: int) -> Iterator[PackedBatch]:
    """`rows` in batches of at most `max_nodes` nodes (at least one row each), padded to their longest row; a
    padding node attends to itself only."""
    start = 0
    while start < len(rows):
        stop, nodes = start + 1, len(rows[start].tokens)
        while stop < len(rows) and nodes + len(rows[stop].tokens) <= max_nodes:
            nodes += len(rows[stop].tokens)
            stop += 1
        yield _batch(rows[start:stop], pad_id)
        start = stop


def _batch(rows: Sequence[PackedRow], pad_id: int) -> PackedBatch:
    sizes = [len(r.tokens) for r in rows]
    width = max(sizes)
    row_of = np.repeat(np.arange(len(rows)), sizes)
    col_of = np.arange(len(row_of)) - np.repeat(np.cumsum(sizes) - sizes, sizes)

    def laid_out(field: str, fill: int) -> torch.Tensor:
        out = np.full((len(rows), width), fill, dtype=np.int64)
        out[row_of, col_of] = [v for r in rows for v in getattr(r, field)]
        return torch.from_numpy(out)

    ids, depths, parents = laid_out("tokens", pad_id), laid_out("depths", 0), laid_out("parents", -1)
    mask = torch.zeros((len(rows), width, width), dtype=torch.bool)
    index = torch.arange(len(rows))
    for t in range(width):  # a node sees what its parent sees, and itself; parents come before their children
        has_parent = parents[:, t] >= 0
        mask[has_parent, t] = mask[index[has_parent], parents[has_parent, t]]
        mask[:, t, t] = True
    counts = [len(r.sequences) for r in rows]
    return PackedBatch(ids, depths, mask, torch.tensor([s for r in rows for s in r.sequences]),
                       torch.repeat_interleave(index, torch.tensor(counts)), torch.tensor([e for r in rows for e in r.ends]))
