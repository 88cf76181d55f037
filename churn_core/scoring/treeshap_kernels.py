"""The compiled kernels of churn_core.scoring.treeshap: the depth-first walk of a tree over a block of rows,
the table lookups of small trees, and the loop over blocks (one call per thread; it releases the GIL).

Rows go through in blocks of BLOCK, the block being the innermost, vectorised loop; features are stored
column-major so that a split reads one contiguous slice. The walk computes in float32 (twice the rows per
vector instruction: 1.6x faster on deep trees, within 1e-6 of shap's own float64 algorithm, closer than
XGBoost's pred_contribs) and adds each tree's values up in float64. treeshap.layout_tree fills each split's
parameters in the slots below.

Compiling the kernels takes seconds; numba's cache keeps the machine code on disk, by default next to this
module, which an installed package may not be allowed to write. `cache_in` moves it to a directory of our
own (churn_core.scoring.explain puts it under CHURN_HOME), so a machine compiles once and every later
process loads the kernels in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
from numba import njit

BLOCK = 64  # rows per block: the innermost, SIMD loop of every kernel
LEAF, SPLIT, TWIG = 0, 1, 2  # node kinds; a twig is a split whose two children are both leaves
# Per split and quadrature point, with on = "the row satisfied the earlier splits on this feature" and
# sel = on * "the row goes left" (both 0/1 per row):
#   factor of the edge to child s:   cover_ratio[s] + on * ALPHA_s + sel * BETA_s   (times v for a leaf)
#   contribution weight of that edge:                 on * GAMMA_s + sel * DELTA_s
# and for a twig, the sum over its two leaves of v * factor (M) and of v * factor * weight (C):
#   M = TWIG_M + on * TWIG_M_ON + sel * TWIG_M_SEL,    C = on * TWIG_C_ON + sel * TWIG_C_SEL
ALPHA, BETA, GAMMA, DELTA = 0, 1, 2, 3  # slot 4 * side + these
TWIG_M, TWIG_M_ON, TWIG_M_SEL, TWIG_C_ON, TWIG_C_SEL = 0, 1, 2, 3, 4
N_SLOTS = 8


@njit(cache=True, fastmath={"contract"}, inline="always")
def _walk_tree(t, forest, xb, r0, tabulate, phi, work, on, sel, node_at, side_at):  # fmt: skip
    """Add tree t's SHAP values for one block of rows xb (features x BLOCK) to phi (features x BLOCK).

    When tabulating, row r0 + r stands for the pattern whose bit j is the turn at the tree's j-th split.
    work[level] holds the leaf products summed over the level's completed left and right child (slots 0
    and 1) and the product of edge factors from the root (slot 2). Only scalar indexing in here: array
    views and temporaries would cost reference counting per node.
    """
    (
        tree_start, tree_q, feature, threshold, default_left, depth, is_right, kind, prev_level, bit,
        base_factor, params,
    ) = forest  # fmt: skip
    start, end, q = tree_start[t], tree_start[t + 1], tree_q[t]
    for k in range(q):
        for r in range(BLOCK):
            work[0, 2, k, r] = 1.0
    side_at[0] = 0
    n = start
    while n < end:
        d = depth[n]
        node_at[d] = n
        if n > start:  # the edge from the parent one level up: its factor times the parent's product
            s = is_right[n]
            side_at[d] = s
            p = node_at[d - 1]
            z = base_factor[p, s]
            target = s if kind[n] == LEAF else 2  # a leaf's product (times v) is its M
            for k in range(q):
                alpha = params[p, 4 * s + ALPHA, k]
                beta = params[p, 4 * s + BETA, k]
                for r in range(BLOCK):
                    work[d, target, k, r] = work[d - 1, 2, k, r] * (z + on[d - 1, r] * alpha + sel[d - 1, r] * beta)
        if kind[n] == LEAF:
            _complete(d, q, feature, params, phi, work, on, sel, node_at, side_at)
            n += 1
            continue
        lv = prev_level[n]
        for r in range(BLOCK):
            if lv < 0:
                on[d, r] = 1.0
            elif side_at[lv + 1] == 0:
                on[d, r] = sel[lv, r]
            else:
                on[d, r] = on[lv, r] - sel[lv, r]
        f = feature[n]
        if tabulate:
            b = bit[n]
            for r in range(BLOCK):
                sel[d, r] = on[d, r] * (((r0 + r) >> b) & 1)
        else:
            thr, dl = threshold[n], default_left[n]
            for r in range(BLOCK):
                sel[d, r] = on[d, r] * ((xb[f, r] < thr) | (dl & (xb[f, r] != xb[f, r])))
        if kind[n] == TWIG:
            s = side_at[d]
            for k in range(q):
                m0, m_on, m_sel = params[n, TWIG_M, k], params[n, TWIG_M_ON, k], params[n, TWIG_M_SEL, k]
                c_on, c_sel = params[n, TWIG_C_ON, k], params[n, TWIG_C_SEL, k]
                for r in range(BLOCK):
                    a = work[d, 2, k, r]
                    work[d, s, k, r] = a * (m0 + on[d, r] * m_on + sel[d, r] * m_sel)
                    phi[f, r] += a * (on[d, r] * c_on + sel[d, r] * c_sel)
            _complete(d, q, feature, params, phi, work, on, sel, node_at, side_at)
            n += 3
            continue
        n += 1


@njit(cache=True, fastmath={"contract"}, inline="always")
def _complete(d, q, feature, params, phi, work, on, sel, node_at, side_at):  # fmt: skip
    """The subtree at level d is done; while it is a right child its parent is done too: credit the
    parent's two edges and sum their leaf products into the parent's slot one level up."""
    while d > 0 and side_at[d] == 1:
        p = node_at[d - 1]
        f = feature[p]
        up = side_at[d - 1]
        for k in range(q):
            g0, d0 = params[p, GAMMA, k], params[p, DELTA, k]
            g1, d1 = params[p, 4 + GAMMA, k], params[p, 4 + DELTA, k]
            for r in range(BLOCK):
                m0 = work[d, 0, k, r]
                m1 = work[d, 1, k, r]
                phi[f, r] += on[d - 1, r] * (g0 * m0 + g1 * m1) + sel[d - 1, r] * (d0 * m0 + d1 * m1)
                work[d - 1, up, k, r] = m0 + m1
        d -= 1


@njit(cache=True, inline="always")
def _table_block(tables, xb, phi, index):  # fmt: skip
    """Add the tabulated trees' values for one block: one table row per tree and row."""
    split_start, feature, threshold, default_left, slot_start, slot_feature, value_start, values = tables
    for t in range(len(split_start) - 1):
        index[:] = 0
        for j in range(split_start[t + 1] - split_start[t]):
            i = split_start[t] + j
            f, thr, dl = feature[i], threshold[i], default_left[i]
            for r in range(BLOCK):
                index[r] |= np.int64((xb[f, r] < thr) | (dl & (xb[f, r] != xb[f, r]))) << j
        width = slot_start[t + 1] - slot_start[t]
        for c in range(width):
            f = slot_feature[slot_start[t] + c]
            base = value_start[t] + c
            for r in range(BLOCK):
                phi[f, r] += values[base + index[r] * width]


@njit(cache=True, nogil=True, fastmath={"contract"})
def run(xt, first, last, forest, tables, tabulate, max_depth, max_q, out):  # fmt: skip
    """SHAP values of the rows in blocks [first, last) of xt (features x padded rows) into out."""
    n_features = xt.shape[0]
    levels = max_depth + 1
    work = np.empty((levels, 3, max_q, BLOCK), dtype=np.float32)
    on = np.empty((levels, BLOCK), dtype=np.float32)  # the row satisfied the earlier splits on this level's feature
    sel = np.empty((levels, BLOCK), dtype=np.float32)  # on, and the row goes left at this level's split
    node_at = np.zeros(levels, dtype=np.int64)  # the current path's node on each level
    side_at = np.zeros(levels, dtype=np.int64)  # 1 when that node is a right child
    phi = np.empty((n_features, BLOCK))
    xb = np.empty((n_features, BLOCK), dtype=np.float32)
    index = np.empty(BLOCK, dtype=np.int64)
    for b in range(first, last):
        r0 = b * BLOCK
        xb[:] = xt[:, r0 : r0 + BLOCK]
        phi[:] = 0.0
        _table_block(tables, xb, phi, index)
        for t in range(len(forest[0]) - 1):
            _walk_tree(t, forest, xb, r0, tabulate, phi, work, on, sel, node_at, side_at)
        for r in range(min(BLOCK, out.shape[0] - r0)):
            for f in range(n_features):
                out[r0 + r, f] = phi[f, r]


def cache_in(directory: Path) -> None:
    """Load the compiled kernels from `directory`, or compile and store them there on first use.

    numba reads its cache directory once per function, when caching is enabled for it: the setting is
    changed only while the entry point's cache is re-enabled (the inlined kernels are compiled into it).
    A directory that cannot be written is skipped for numba's own choice (next to the module, else the
    user's cache directory)."""
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(directory)
    try:
        run.enable_caching()
    finally:
        numba.config.CACHE_DIR = previous
