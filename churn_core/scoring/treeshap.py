"""Exact path-dependent TreeSHAP for a forest of binary trees, in O(nodes) per tree and row.

TreeSHAP gives feature i, from a leaf with value v whose path has the unique features U, the amount

    v (o_i - z_i) integral_0^1 prod_{j in U, j != i} F_j(t) dt,    F_j(t) = o_j t + z_j (1 - t)

where z_j is the product of the cover ratios of the path's splits on j and o_j is 1 when the row passes
all of them (the Shapley weights s!(d-s-1)!/d! are Beta integrals; repeated splits on a feature merge
exactly as in TreeSHAP's unwound paths). The integrand has degree < depth, so Gauss-Legendre quadrature
with ceil(depth / 2) points is exact. Write it v R(t) g_i(t) with R = prod_j F_j and g_i = (o_i - z_i) / F_i.
At a quadrature point R is a product of one factor per edge (how the edge changes its feature's F) and g_i
a sum of one increment per edge on feature i; each depends only on whether the row takes that edge and
whether it passed the earlier splits on the same feature. So feature i gets, summed over the edges e on
it, increment(e) times M(e), the sum of v R over the leaves below e: one depth-first walk per tree that
multiplies the factors down and adds the leaves' products up gives every feature's value. That is
O(nodes * depth / 2) flops per row and tree, against O(leaves * depth^2) for TreeSHAP (Linear TreeSHAP
reaches a similar bound with polynomial algebra; Fast TreeSHAP v2 with tables of 2^depth per leaf).

Small trees are tabulated instead: their values depend only on the row's turn at each split, so a table
over all turn patterns (built with the walk itself) is small, and each row adds one table row per tree.

This module lays the trees out (flat node arrays, each split's quadrature parameters, the tables);
churn_core.scoring.treeshap_kernels walks them, compiled with numba.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from churn_core.scoring.treeshap_kernels import (
    BLOCK,
    LEAF,
    N_SLOTS,
    SPLIT,
    TWIG,
    run,
)

TABLE_MAX_CELLS = 2048  # tabulate a tree when 2**internal_nodes * distinct_features is at most this


@dataclass
class RawTree:
    """One tree as xgboost stores it: node ids as in the model, root 0, leaf value in `threshold`."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray  # float32
    default_left: np.ndarray
    cover: np.ndarray


@dataclass(frozen=True)
class Forest:
    """Flat node arrays over the walked trees, depth-first pre-order (a split's left child is next)."""

    tree_start: np.ndarray  # int64 (n_trees + 1,)
    tree_q: np.ndarray  # int64: quadrature points of each tree
    feature: np.ndarray  # int32, -1 at leaves
    threshold: np.ndarray  # float32: go left when x < threshold
    default_left: np.ndarray  # bool: side of a missing value
    depth: np.ndarray  # int64
    is_right: np.ndarray  # int64 0/1: the node is its parent's right child
    kind: np.ndarray  # int8 LEAF / SPLIT / TWIG
    prev_level: np.ndarray  # int64: depth of the nearest ancestor splitting on the same feature, or -1
    bit: np.ndarray  # int64: rank of a split among its tree's splits (its bit in a turn pattern)
    base_factor: np.ndarray  # float32 (n_nodes, 2): cover ratio of the edge to each child (times v)
    params: np.ndarray  # float32 (n_nodes, N_SLOTS, max q)
    expected: np.ndarray  # float64 per tree: the cover-weighted mean of its leaves

    @property
    def n_trees(self) -> int:
        return len(self.tree_start) - 1

    @property
    def max_depth(self) -> int:
        return int(self.depth.max(initial=0))

    @property
    def max_q(self) -> int:
        return self.params.shape[2]

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.tree_start, self.tree_q, self.feature, self.threshold, self.default_left, self.depth,
            self.is_right, self.kind, self.prev_level, self.bit, self.base_factor, self.params,
        )  # fmt: skip


@dataclass(frozen=True)
class Tables:
    """Small trees as tables: per pattern of turns at the splits, the value of each feature used."""

    split_start: np.ndarray  # int64 (n_tables + 1,): offsets into the split arrays
    feature: np.ndarray  # int32 per split
    threshold: np.ndarray  # float32
    default_left: np.ndarray  # bool
    slot_start: np.ndarray  # int64 (n_tables + 1,): offsets into slot_feature
    slot_feature: np.ndarray  # int32: feature of each table column
    value_start: np.ndarray  # int64 (n_tables + 1,): offsets into values (pattern-major)
    values: np.ndarray  # float64
    expected: np.ndarray  # float64 per tree

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.split_start, self.feature, self.threshold, self.default_left, self.slot_start,
            self.slot_feature, self.value_start, self.values,
        )  # fmt: skip


@functools.cache
def gauss_legendre(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [0, 1], exact for polynomials of degree < 2q."""
    x, w = np.polynomial.legendre.leggauss(q)
    return (x + 1.0) / 2.0, w / 2.0


def _edge(z: np.ndarray, z_prev: np.ndarray, t: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    """Factor and weighted change of g = (o - z) / (o t + z (1 - t)) over an edge, taken or not.

    Before the edge the feature's merged (one, zero) fractions are (1, z_prev); taking the edge with
    cover ratio z makes them (1, z_prev z), not taking it (0, z_prev z). (From (0, .) the factor is z
    and g stays -1 / (1 - t): the kernel's `on` = 0 case.) Results are (splits, points).
    """
    zz = (z_prev * z)[:, None]
    f_prev = t + z_prev[:, None] * (1.0 - t)
    g_prev = (1.0 - z_prev[:, None]) / f_prev
    f_take = t + zz * (1.0 - t)
    rho_take, rho_other = f_take / f_prev, zz * (1.0 - t) / f_prev
    dg_take = w * ((1.0 - zz) / f_take - g_prev)
    dg_other = w * (-1.0 / (1.0 - t) - g_prev)
    return rho_take, rho_other, dg_take, dg_other


def layout_tree(tree: RawTree) -> dict[str, object]:
    """Pre-order node arrays of one tree, with each split's quadrature parameters."""
    ids, parent, is_right, depth = [], [], [], []
    stack = [(0, -1, 0, 0)]
    while stack:
        node, up, side, level = stack.pop()
        here = len(ids)
        ids.append(node)
        parent.append(up)
        is_right.append(side)
        depth.append(level)
        if tree.left[node] >= 0:
            stack += [(int(tree.right[node]), here, 1, level + 1), (int(tree.left[node]), here, 0, level + 1)]
    ids = np.array(ids)
    n = len(ids)
    is_leaf = tree.left[ids] < 0
    feature = np.where(is_leaf, -1, tree.feature[ids]).astype(np.int32)
    value = np.where(is_leaf, tree.threshold[ids].astype(np.float64), 0.0)
    cover = tree.cover[ids].astype(np.float64)
    ratio = np.ones(n)  # cover ratio of the edge into each node
    ratio[1:] = np.divide(cover[1:], cover[parent[1:]], out=np.zeros(n - 1), where=cover[parent[1:]] > 0)
    reach, prev_level, z_prev = ratio.copy(), np.full(n, -1, dtype=np.int64), np.ones(n)
    for i in range(1, n):
        reach[i] *= reach[parent[i]]
    for i in np.flatnonzero(~is_leaf):  # earlier splits on the same feature along the path
        child, a = i, parent[i]
        while a >= 0:
            if feature[a] == feature[i]:
                prev_level[i] = max(prev_level[i], depth[a])  # the first one met is the nearest
                z_prev[i] *= ratio[child]
            child, a = a, parent[a]
    right = np.zeros(n, dtype=np.int64)
    right_children = np.flatnonzero(np.array(is_right) == 1)
    right[np.array(parent)[right_children]] = right_children
    q = max(1, (max(depth) + 1) // 2)  # a leaf's path has at most max depth features
    t, w = gauss_legendre(q)
    splits = np.flatnonzero(~is_leaf)
    kids = (splits + 1, right[splits])
    scale = [np.where(is_leaf[k], value[k], 1.0) for k in kids]  # a leaf child's factor carries v
    base_factor = np.zeros((n, 2))
    take, other = [], []  # factor and weight of the edge to each child when the row takes it or not
    for s, k in enumerate(kids):
        rho_take, rho_other, dg_take, dg_other = _edge(ratio[k], z_prev[splits], t, w)
        take.append((scale[s][:, None] * rho_take, dg_take))
        other.append((scale[s][:, None] * rho_other, dg_other))
        base_factor[splits, s] = scale[s] * ratio[k]
    # Going left takes the left edge and not the right one; sel = on when going left.
    (lt, lt_dg), (ro, ro_dg) = take[0], other[1]
    (lo, lo_dg), (rt, rt_dg) = other[0], take[1]
    bf = base_factor[splits]
    # the slots in the kernels' order (treeshap_kernels: ALPHA, BETA, GAMMA, DELTA per side; TWIG_*)
    generic = np.stack(
        [lo - bf[:, :1], lt - lo, lo_dg, lt_dg - lo_dg, rt - bf[:, 1:], ro - rt, rt_dg, ro_dg - rt_dg], axis=1
    )
    m_off = np.broadcast_to((bf[:, 0] + bf[:, 1])[:, None], lo.shape)
    c_on = lo * lo_dg + rt * rt_dg
    unused = np.zeros_like(lo)
    twig_params = np.stack(
        [
            m_off,
            lo + rt - m_off,
            lt + ro - lo - rt,
            c_on,
            lt * lt_dg + ro * ro_dg - c_on,
            unused,
            unused,
            unused,
        ],
        axis=1,
    )
    twig = is_leaf[kids[0]] & is_leaf[kids[1]]
    params = np.zeros((n, N_SLOTS, q))
    params[splits] = np.where(twig[:, None, None], twig_params, generic)
    kind = np.where(is_leaf, LEAF, SPLIT).astype(np.int8)
    kind[splits[twig]] = TWIG
    return {
        "q": q,
        "feature": feature,
        "threshold": np.where(is_leaf, 0.0, tree.threshold[ids]).astype(np.float32),
        "default_left": tree.default_left[ids].astype(bool) & ~is_leaf,
        "depth": np.array(depth, dtype=np.int64),
        "is_right": np.array(is_right, dtype=np.int64),
        "kind": kind,
        "prev_level": prev_level,
        "bit": np.cumsum(~is_leaf) - 1,
        "base_factor": base_factor,
        "params": params,
        "expected": float(np.sum(value * reach)),
    }


def build(trees: list[RawTree], n_features: int) -> tuple[Forest, Tables]:
    """Lay the trees out for the kernels: small ones as tables, the others for the depth-first walk."""
    lays = [layout_tree(tree) for tree in trees]
    small = [_table_cells(lay) <= TABLE_MAX_CELLS for lay in lays]
    return (
        _concat([lay for lay, s in zip(lays, small, strict=True) if not s]),
        _tabulate([lay for lay, s in zip(lays, small, strict=True) if s], n_features),
    )


def _table_cells(lay: dict[str, object]) -> int:
    splits = lay["feature"][lay["feature"] >= 0]
    return (1 << min(len(splits), 62)) * max(1, len(np.unique(splits)))


def _offsets(sizes: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def _concat(lays: list[dict[str, object]]) -> Forest:
    start = _offsets([len(lay["feature"]) for lay in lays])
    params = np.zeros((start[-1], N_SLOTS, max((lay["q"] for lay in lays), default=1)), np.float32)
    for lay, a in zip(lays, start[:-1], strict=True):
        params[a : a + len(lay["feature"]), :, : lay["q"]] = lay["params"]
    return Forest(
        tree_start=start,
        tree_q=np.array([lay["q"] for lay in lays], dtype=np.int64),
        feature=_cat([lay["feature"] for lay in lays], np.int32),
        threshold=_cat([lay["threshold"] for lay in lays], np.float32),
        default_left=_cat([lay["default_left"] for lay in lays], np.bool_),
        depth=_cat([lay["depth"] for lay in lays], np.int64),
        is_right=_cat([lay["is_right"] for lay in lays], np.int64),
        kind=_cat([lay["kind"] for lay in lays], np.int8),
        prev_level=_cat([lay["prev_level"] for lay in lays], np.int64),
        bit=_cat([lay["bit"] for lay in lays], np.int64),
        base_factor=np.concatenate([lay["base_factor"] for lay in lays]).astype(np.float32)
        if lays
        else np.zeros((0, 2), np.float32),
        params=params,
        expected=np.array([lay["expected"] for lay in lays], dtype=np.float64),
    )


def _tabulate(lays: list[dict[str, object]], n_features: int) -> Tables:
    """Walk every turn pattern of each small tree (the patterns stand in for rows)."""
    no_tables = _tables([], [], [], np.zeros(0))
    splits, slots, values = [], [], []
    for lay in lays:
        forest = _concat([lay])
        is_split = lay["feature"] >= 0
        used = np.unique(lay["feature"][is_split])
        n_patterns = 1 << int(is_split.sum())
        n_blocks = -(-n_patterns // BLOCK)
        phi = np.empty((n_patterns, n_features + 1))
        rows = np.zeros((n_features, n_blocks * BLOCK), dtype=np.float32)  # not read when tabulating
        run(rows, 0, n_blocks, forest.arrays(), no_tables.arrays(), True, forest.max_depth, forest.max_q, phi)
        splits.append((lay["feature"][is_split], lay["threshold"][is_split], lay["default_left"][is_split]))
        slots.append(used.astype(np.int32))
        values.append(phi[:, used].ravel())
    return _tables(splits, slots, values, np.array([lay["expected"] for lay in lays], dtype=np.float64))


def _tables(
    splits: list[tuple[np.ndarray, ...]],
    slots: list[np.ndarray],
    values: list[np.ndarray],
    expected: np.ndarray,
) -> Tables:
    return Tables(
        split_start=_offsets([len(s[0]) for s in splits]),
        feature=_cat([s[0] for s in splits], np.int32),
        threshold=_cat([s[1] for s in splits], np.float32),
        default_left=_cat([s[2] for s in splits], np.bool_),
        slot_start=_offsets([len(s) for s in slots]),
        slot_feature=_cat(slots, np.int32),
        value_start=_offsets([len(v) for v in values]),
        values=_cat(values, np.float64),
        expected=expected,
    )


def explain(forest: Forest, tables: Tables, x: np.ndarray, n_threads: int = 1) -> np.ndarray:
    """SHAP values of float32 rows x, shape (rows, features + 1); the caller fills the base column."""
    n, n_features = x.shape
    xt = np.zeros((n_features, -(-n // BLOCK) * BLOCK), dtype=np.float32)
    xt[:, :n] = x.T
    out = np.empty((n, n_features + 1))
    n_blocks = xt.shape[1] // BLOCK
    cuts = np.linspace(0, n_blocks, min(n_threads, n_blocks) + 1).astype(int)
    args = (forest.arrays(), tables.arrays(), False, forest.max_depth, forest.max_q, out)
    if len(cuts) <= 2:
        run(xt, 0, n_blocks, *args)
        return out
    with ThreadPoolExecutor(len(cuts) - 1) as pool:  # the kernel releases the GIL
        list(pool.map(lambda a, b: run(xt, a, b, *args), cuts[:-1], cuts[1:]))
    return out
