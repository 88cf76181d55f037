"""Exact path-dependent TreeSHAP for a forest of binary trees, in O(nodes) per tree and row.

TreeSHAP gives feature i, from one leaf with value v whose path has the unique features U, the amount

    v * (o_i - z_i) * integral_0^1  prod_{j in U, j != i} (o_j t + z_j (1 - t)) dt

where z_j is the product of the cover ratios of the path's splits on j and o_j is 1 when the row satisfies
all of them (the Shapley weights s!(d-s-1)!/d! are Beta integrals). The integrand is a polynomial of
degree < depth, so Gauss-Legendre quadrature with ceil(depth / 2) points is exact. At each quadrature
point the leaf's product over its features telescopes into one factor per edge, and its contribution to
feature i into one term per edge that splits on i; both depend only on whether the row takes that edge
and whether it satisfied the earlier splits on the same feature (repeated features are merged exactly as
TreeSHAP's unwound paths do). One depth-first walk per tree, multiplying the factors down and summing
the leaves' products up, therefore gives every feature's value for a row: O(nodes * depth / 2) flops,
against O(leaves * depth^2) for TreeSHAP itself (Linear TreeSHAP reaches a similar bound with polynomial
algebra; Fast TreeSHAP v2 with tables that grow as 2^depth per leaf).

Small trees are tabulated instead: their values depend only on the row's turn at each internal node, so
the table over all turn patterns (built with the walk itself) is small and each row adds one table row.

Rows go through in blocks of BLOCK with the block as the innermost, vectorised loop; features are stored
column-major so a split reads one contiguous slice. Accumulation is in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

BLOCK = 64  # rows per block: the innermost, SIMD loop of every kernel
TABLE_MAX_CELLS = 2048  # tabulate a tree when 2**internal_nodes * distinct_features is at most this
CHUNK_BLOCKS = 4  # blocks per parallel work item

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
    base_factor: np.ndarray  # float64 (n_nodes, 2): cover ratio of the edge to each child (times v)
    params: np.ndarray  # float64 (n_nodes, N_SLOTS, max q)
    expected: np.ndarray  # float64 per tree: the cover-weighted mean of its leaves

    @property
    def n_trees(self) -> int:
        return len(self.tree_start) - 1

    @property
    def max_depth(self) -> int:
        return int(self.depth.max(initial=0))

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


def gauss_legendre(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [0, 1], exact for polynomials of degree < 2q."""
    x, w = np.polynomial.legendre.leggauss(q)
    return (x + 1.0) / 2.0, w / 2.0


def _edge(z: float, z_prev: float, t: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    """Factor and weighted change of g = (o - z) / (o t + z (1 - t)) over an edge, taken or not.

    Before the edge the feature's merged (one, zero) fractions are (1, z_prev); taking the edge with
    cover ratio z makes them (1, z_prev z), the other edge (0, z_prev z); from (0, .) the factor is z
    and g stays -1 / (1 - t).
    """
    f_prev = t + z_prev * (1.0 - t)
    g_prev = (1.0 - z_prev) / f_prev
    f_take = t + z_prev * z * (1.0 - t)
    rho_take, rho_other = f_take / f_prev, z_prev * z * (1.0 - t) / f_prev
    dg_take = w * ((1.0 - z_prev * z) / f_take - g_prev)
    dg_other = w * (-1.0 / (1.0 - t) - g_prev)
    return rho_take, rho_other, dg_take, dg_other


def layout_tree(tree: RawTree) -> dict[str, object]:
    """Pre-order node arrays of one tree, with each split's quadrature parameters."""
    # (node id, depth, is_right, parent position, {feature: (level, z product)} along the path, reach)
    rows: list[tuple[int, int, int, int, dict[int, tuple[int, float]], float]] = []
    stack = [(0, 0, 0, -1, {}, 1.0)]
    while stack:
        node, depth, is_right, parent, path, reach = stack.pop()
        rows.append((node, depth, is_right, parent, path, reach))
        if tree.left[node] < 0:
            continue
        f, cover = int(tree.feature[node]), float(tree.cover[node])
        for side, child in ((1, tree.right[node]), (0, tree.left[node])):
            z = float(tree.cover[child]) / cover if cover > 0 else 0.0
            child_path = {**path, f: (depth, path.get(f, (-1, 1.0))[1] * z)}
            stack.append((int(child), depth + 1, side, len(rows) - 1, child_path, reach * z))
    ids = np.array([row[0] for row in rows])
    n = len(ids)
    is_leaf = tree.left[ids] < 0
    value = np.where(is_leaf, tree.threshold[ids].astype(np.float64), 0.0)
    depth = np.array([row[1] for row in rows], dtype=np.int64)
    q = max(1, (int(depth.max()) + 1) // 2)  # leaf paths have at most max depth features
    t, w = gauss_legendre(q)
    kind = np.where(is_leaf, LEAF, SPLIT).astype(np.int8)
    prev_level = np.full(n, -1, dtype=np.int64)
    base_factor = np.zeros((n, 2))
    params = np.zeros((n, N_SLOTS, q))
    children: dict[int, list[int]] = {}
    for i, row in enumerate(rows[1:], start=1):
        children.setdefault(row[3], [0, 0])[row[2]] = i
    for i, (left, right) in children.items():
        f, path = int(tree.feature[ids[i]]), rows[i][4]
        prev_level[i], z_prev = path.get(f, (-1, 1.0))
        cover = float(tree.cover[ids[i]])
        z = [float(tree.cover[ids[k]]) / cover if cover > 0 else 0.0 for k in (left, right)]
        take, other = [], []  # factor and weight when the row takes / does not take the edge
        for s, k in enumerate((left, right)):
            rho_take, rho_other, dg_take, dg_other = _edge(z[s], z_prev, t, w)
            scale = value[k] if is_leaf[k] else 1.0
            take.append((scale * rho_take, dg_take))
            other.append((scale * rho_other, dg_other))
            base_factor[i, s] = scale * z[s]
        # going left: the left edge is taken and the right one not; sel = on when going left
        (lt, lt_dg), (ro, ro_dg) = take[0], other[1]
        (lo, lo_dg), (rt, rt_dg) = other[0], take[1]
        if is_leaf[left] and is_leaf[right]:
            kind[i] = TWIG
            p = params[i]
            p[TWIG_M] = base_factor[i, 0] + base_factor[i, 1]
            p[TWIG_M_ON] = lo + rt - p[TWIG_M]
            p[TWIG_M_SEL] = lt + ro - lo - rt
            p[TWIG_C_ON] = lo * lo_dg + rt * rt_dg
            p[TWIG_C_SEL] = lt * lt_dg + ro * ro_dg - p[TWIG_C_ON]
        else:
            params[i, ALPHA], params[i, BETA] = lo - base_factor[i, 0], lt - lo
            params[i, GAMMA], params[i, DELTA] = lo_dg, lt_dg - lo_dg
            params[i, 4 + ALPHA], params[i, 4 + BETA] = rt - base_factor[i, 1], ro - rt
            params[i, 4 + GAMMA], params[i, 4 + DELTA] = rt_dg, ro_dg - rt_dg
    return {
        "q": q,
        "feature": np.where(is_leaf, -1, tree.feature[ids]).astype(np.int32),
        "threshold": np.where(is_leaf, 0.0, tree.threshold[ids]).astype(np.float32),
        "default_left": tree.default_left[ids].astype(bool) & ~is_leaf,
        "depth": depth,
        "is_right": np.array([row[2] for row in rows], dtype=np.int64),
        "kind": kind,
        "prev_level": prev_level,
        "bit": np.cumsum(~is_leaf) - 1,
        "base_factor": base_factor,
        "params": params,
        "expected": float(np.sum(value * np.array([row[5] for row in rows]))),
    }


def build(trees: list[RawTree]) -> tuple[Forest, Tables]:
    """Lay the trees out for the kernels: small ones as tables, the others for the depth-first walk."""
    lays = [layout_tree(tree) for tree in trees]
    small = [_table_cells(lay) <= TABLE_MAX_CELLS for lay in lays]
    return (
        _concat([lay for lay, s in zip(lays, small, strict=True) if not s]),
        _tabulate([lay for lay, s in zip(lays, small, strict=True) if s]),
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
    params = np.zeros((start[-1], N_SLOTS, max((lay["q"] for lay in lays), default=1)))
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
        base_factor=np.concatenate([lay["base_factor"] for lay in lays]) if lays else np.zeros((0, 2)),
        params=params,
        expected=np.array([lay["expected"] for lay in lays], dtype=np.float64),
    )


def _tabulate(lays: list[dict[str, object]]) -> Tables:
    """Walk every turn pattern of each small tree (the patterns stand in for rows)."""
    splits, slots, values = [], [], []
    for lay in lays:
        forest = _concat([lay])
        is_split = lay["feature"] >= 0
        used = np.unique(lay["feature"][is_split])
        n_patterns = 1 << int(is_split.sum())
        phi = np.zeros((int(used.max(initial=-1)) + 1, n_patterns + BLOCK))
        scratch = _scratch(forest.max_depth, forest.params.shape[2])
        no_rows = np.zeros((0, BLOCK), dtype=np.float32)
        for r0 in range(0, n_patterns, BLOCK):
            patterns = np.arange(r0, r0 + BLOCK, dtype=np.int64)
            block = np.zeros((len(phi), BLOCK))
            _walk_tree(0, forest.arrays(), no_rows, patterns, True, block, *scratch)
            phi[:, r0 : r0 + BLOCK] = block
        splits.append((lay["feature"][is_split], lay["threshold"][is_split], lay["default_left"][is_split]))
        slots.append(used.astype(np.int32))
        values.append(phi[used, :n_patterns].T.ravel())
    return Tables(
        split_start=_offsets([len(s[0]) for s in splits]),
        feature=_cat([s[0] for s in splits], np.int32),
        threshold=_cat([s[1] for s in splits], np.float32),
        default_left=_cat([s[2] for s in splits], np.bool_),
        slot_start=_offsets([len(s) for s in slots]),
        slot_feature=_cat(slots, np.int32),
        value_start=_offsets([len(v) for v in values]),
        values=_cat(values, np.float64),
        expected=np.array([lay["expected"] for lay in lays], dtype=np.float64),
    )


@njit(cache=True)
def _scratch(max_depth: int, max_q: int) -> tuple:
    levels = max_depth + 1
    return (
        np.empty((levels, max_q, BLOCK)),  # anc: product of edge factors from the root to each level
        np.empty((levels, 2, max_q, BLOCK)),  # mbuf: leaf products summed over each completed child
        np.empty((levels, BLOCK)),  # on: the row satisfied the earlier splits on that split's feature
        np.empty((levels, BLOCK)),  # sel: on and the row goes left
        np.zeros(levels, dtype=np.int64),  # node_at: node on each level of the current path
        np.zeros(levels, dtype=np.int64),  # side_at: 1 when that node is a right child
    )


@njit(cache=True, fastmath={"contract"})
def _walk_tree(t, forest, xb, patterns, use_patterns, phi, anc, mbuf, on, sel, node_at, side_at):  # fmt: skip
    """Add tree t's SHAP values for one block of rows xb (features x BLOCK), or of turn patterns, to phi.

    Only scalar indexing in here: array views and temporaries would cost reference counting per node.
    """
    (
        tree_start, tree_q, feature, threshold, default_left, depth, is_right, kind, prev_level, bit,
        base_factor, params,
    ) = forest  # fmt: skip
    start, end, q = tree_start[t], tree_start[t + 1], tree_q[t]
    for k in range(q):
        for r in range(BLOCK):
            anc[0, k, r] = 1.0
    side_at[0] = 0
    n = start
    while n < end:
        d = depth[n]
        node_at[d] = n
        if n > start:  # the edge from the parent, one level up: its factor into anc, or into M at a leaf
            s = is_right[n]
            side_at[d] = s
            p = node_at[d - 1]
            z = base_factor[p, s]
            for k in range(q):
                alpha = params[p, 4 * s + ALPHA, k]
                beta = params[p, 4 * s + BETA, k]
                if kind[n] == LEAF:
                    for r in range(BLOCK):
                        mbuf[d, s, k, r] = anc[d - 1, k, r] * (z + on[d - 1, r] * alpha + sel[d - 1, r] * beta)
                else:
                    for r in range(BLOCK):
                        anc[d, k, r] = anc[d - 1, k, r] * (z + on[d - 1, r] * alpha + sel[d - 1, r] * beta)
        if kind[n] == LEAF:
            _complete(d, q, feature, params, phi, mbuf, on, sel, node_at, side_at)
            n += 1
            continue
        lv = prev_level[n]
        if lv < 0:
            for r in range(BLOCK):
                on[d, r] = 1.0
        elif side_at[lv + 1] == 0:
            for r in range(BLOCK):
                on[d, r] = sel[lv, r]
        else:
            for r in range(BLOCK):
                on[d, r] = on[lv, r] - sel[lv, r]
        if use_patterns:
            b = bit[n]
            for r in range(BLOCK):
                sel[d, r] = on[d, r] * ((patterns[r] >> b) & 1)
        else:
            f, thr, dl = feature[n], threshold[n], default_left[n]
            for r in range(BLOCK):
                sel[d, r] = on[d, r] * ((xb[f, r] < thr) | (dl & (xb[f, r] != xb[f, r])))
        if kind[n] == TWIG:
            f, s = feature[n], side_at[d]
            for k in range(q):
                m0, m_on, m_sel = params[n, TWIG_M, k], params[n, TWIG_M_ON, k], params[n, TWIG_M_SEL, k]
                c_on, c_sel = params[n, TWIG_C_ON, k], params[n, TWIG_C_SEL, k]
                for r in range(BLOCK):
                    a = anc[d, k, r]
                    mbuf[d, s, k, r] = a * (m0 + on[d, r] * m_on + sel[d, r] * m_sel)
                    phi[f, r] += a * (on[d, r] * c_on + sel[d, r] * c_sel)
            _complete(d, q, feature, params, phi, mbuf, on, sel, node_at, side_at)
            n += 3
            continue
        n += 1


@njit(cache=True, fastmath={"contract"}, inline="always")
def _complete(d, q, feature, params, phi, mbuf, on, sel, node_at, side_at):  # fmt: skip
    """The subtree at level d is done; while it is a right child, its parent is done too: credit the
    parent's two edges and sum their leaf products into the parent's."""
    while d > 0 and side_at[d] == 1:
        p = node_at[d - 1]
        f = feature[p]
        up = side_at[d - 1]
        for k in range(q):
            g0, d0 = params[p, GAMMA, k], params[p, DELTA, k]
            g1, d1 = params[p, 4 + GAMMA, k], params[p, 4 + DELTA, k]
            for r in range(BLOCK):
                m0 = mbuf[d, 0, k, r]
                m1 = mbuf[d, 1, k, r]
                phi[f, r] += on[d - 1, r] * (g0 * m0 + g1 * m1) + sel[d - 1, r] * (d0 * m0 + d1 * m1)
                mbuf[d - 1, up, k, r] = m0 + m1
        d -= 1


@njit(cache=True)
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


@njit(cache=True, parallel=True)
def _explain(xt, n_rows, forest, tables, max_depth, max_q, out):  # fmt: skip
    """SHAP values of the first n_rows columns of xt (features x padded rows) into out[:, :features]."""
    n_features = xt.shape[0]
    n_blocks = xt.shape[1] // BLOCK
    n_trees = len(forest[0]) - 1
    no_patterns = np.zeros(0, dtype=np.int64)
    for c in prange((n_blocks + CHUNK_BLOCKS - 1) // CHUNK_BLOCKS):
        anc, mbuf, on, sel, node_at, side_at = _scratch(max_depth, max_q)
        phi = np.empty((n_features, BLOCK))
        xb = np.empty((n_features, BLOCK), dtype=np.float32)
        index = np.empty(BLOCK, dtype=np.int64)
        for b in range(c * CHUNK_BLOCKS, min(n_blocks, (c + 1) * CHUNK_BLOCKS)):
            r0 = b * BLOCK
            xb[:] = xt[:, r0 : r0 + BLOCK]
            phi[:] = 0.0
            _table_block(tables, xb, phi, index)
            for t in range(n_trees):
                _walk_tree(t, forest, xb, no_patterns, False, phi, anc, mbuf, on, sel, node_at, side_at)
            for r in range(min(BLOCK, n_rows - r0)):
                for f in range(n_features):
                    out[r0 + r, f] = phi[f, r]


def explain(forest: Forest, tables: Tables, x: np.ndarray) -> np.ndarray:
    """SHAP values of float32 rows x, shape (rows, features + 1); the caller fills the base column."""
    n, n_features = x.shape
    xt = np.zeros((n_features, -(-n // BLOCK) * BLOCK), dtype=np.float32)
    xt[:, :n] = x.T
    out = np.empty((n, n_features + 1))
    _explain(xt, n, forest.arrays(), tables.arrays(), forest.max_depth, forest.params.shape[2], out)
    return out
