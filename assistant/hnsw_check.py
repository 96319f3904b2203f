"""Structure checks of Chroma's HNSW graph files, before Chroma reads them.

Chroma (hnswlib) rewrites its graph files when it applies its log, so no checksum can hold for
them; instead each segment's header, level-0 links and upper-level link lists are checked for
consistency. A link that points outside the graph is what crashes a process (a segfault) when
Chroma searches it, so such a build is reported as damaged and rebuilt, never searched.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

HNSW_HEADER = struct.Struct("<iQQQQQQiIQQQdQ")  # Chroma's hnswlib: version, offsets, counts, M, ...


def hnsw_problem(segment: Path) -> str:
    """'' when the HNSW files of one Chroma segment are consistent, else what is wrong with them."""
    try:
        raw = (segment / "header.bin").read_bytes()
        (version, offset_level0, max_elements, count, size, label_offset, offset_data, max_level, entry,
         max_m, max_m0, _m, _mult, _ef) = HNSW_HEADER.unpack(raw[: HNSW_HEADER.size])
    except (OSError, struct.error):
        return "header.bin unreadable"
    if not (version == 1 and 0 < size < 1 << 20 and count <= max_elements < 1 << 32 and 0 < max_m0 <= 4096
            and offset_level0 + 4 + 4 * max_m0 <= offset_data < size and label_offset + 8 <= size):
        return "header.bin inconsistent"
    if count == 0:
        return ""  # Chroma keeps a small collection in its log: the graph on disk is empty and unused
    if not (max_level >= 0 and entry < count):
        return "header.bin inconsistent"
    try:
        data = np.fromfile(segment / "data_level0.bin", dtype=np.uint8, count=count * size)
        upper = np.fromfile(segment / "link_lists.bin", dtype=np.uint32)
    except OSError:
        return "a graph file is missing"
    if data.size < count * size:
        return "data_level0.bin is too short"
    rows = data.reshape(count, size)[:, offset_level0 : offset_level0 + 4 + 4 * max_m0]
    if _bad_links(rows.copy().view(np.uint32), max_m0, count):
        return "data_level0.bin has links outside the graph"
    # link_lists.bin: per node, a byte size and that many bytes of upper-level lists (max_m + 1 words each)
    width, starts, p = max_m + 1, [], 0
    for _ in range(count):
        if p >= upper.size or upper[p] % (4 * width):
            return "link_lists.bin is inconsistent"
        levels = int(upper[p]) // (4 * width)
        starts += range(p + 1, p + 1 + levels * width, width)
        p += 1 + levels * width
    if p != upper.size:
        return "link_lists.bin is inconsistent"
    if starts and _bad_links(upper[np.array(starts)[:, None] + np.arange(width)], max_m, count):
        return "link_lists.bin has links outside the graph"
    return ""


def _bad_links(rows: np.ndarray, most: int, count: int) -> bool:
    """Rows of [link count, link, link, ...]: a count above ``most`` or a link to no node."""
    counts = rows[:, 0] & 0xFFFF
    if (counts > most).any():
        return True
    used = np.arange(rows.shape[1] - 1)[None, :] < counts[:, None]
    return bool((rows[:, 1:][used] >= count).any())


