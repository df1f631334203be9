"""Natural breaks for every class count at once: exact weighted 1-D k-means by dynamic
programming with the divide-and-conquer optimisation (numba).

Jenks natural breaks minimise the total within-class sum of squares of contiguous classes of
the sorted values (Fisher 1958), i.e. optimal 1-D k-means. The optimal split points are monotone
in the right end of a class (the cost satisfies the quadrangle inequality), so each DP layer is
filled in O(n log n) (Wang and Song 2011, R Journal 3(2):29-33, Ckmeans.1d.dp; Gronlund et al.
2017 for the kmeans1d package). One run fills layers 1..k_max, and every k <= k_max is read
off by backtracking: O(k_max n log n) for all counts, instead of one O(k n log n) run per k.

Tied values are merged into weighted points first: an optimal 1-D k-means partition never needs
to split tied values, and with ties kept together the class maxima are breaks that GD's
``stra()`` (x <= b -> lower class) maps back to exactly these classes.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _cost(c0, c1, c2, i, j):
    # weighted SSE of unique points i..j inclusive
    w = c0[j + 1] - c0[i]
    s = c1[j + 1] - c1[i]
    v = (c2[j + 1] - c2[i]) - s * s / w
    return v if v > 0.0 else 0.0


@njit(cache=True)
def _dp(c0, c1, c2, n, kmax):
    cost = np.empty((kmax, n))
    arg = np.zeros((kmax, n), dtype=np.int64)
    for j in range(n):
        cost[0, j] = _cost(c0, c1, c2, 0, j)
    stack = np.empty((4 * (n + 2), 4), dtype=np.int64)
    for m in range(1, kmax):
        for j in range(m):
            cost[m, j] = np.inf
        # divide and conquer over j in [m, n-1], split s in [m, j]
        top = 0
        stack[0, 0] = m
        stack[0, 1] = n - 1
        stack[0, 2] = m
        stack[0, 3] = n - 1
        top = 1
        while top > 0:
            top -= 1
            lo = stack[top, 0]
            hi = stack[top, 1]
            olo = stack[top, 2]
            ohi = stack[top, 3]
            if lo > hi:
                continue
            mid = (lo + hi) // 2
            best = np.inf
            bs = olo
            upper = ohi if ohi < mid else mid
            for s in range(olo, upper + 1):
                v = cost[m - 1, s - 1] + _cost(c0, c1, c2, s, mid)
                if v < best:
                    best = v
                    bs = s
            cost[m, mid] = best
            arg[m, mid] = bs
            stack[top, 0] = lo
            stack[top, 1] = mid - 1
            stack[top, 2] = olo
            stack[top, 3] = bs
            top += 1
            stack[top, 0] = mid + 1
            stack[top, 1] = hi
            stack[top, 2] = bs
            stack[top, 3] = ohi
            top += 1
    return cost, arg


def natural_breaks_all(x: np.ndarray, ks: list[int]) -> dict[int, np.ndarray]:
    """Natural breaks (min, class maxima 1..k-1, max) of ``x`` for every ``k`` in ``ks``.

    A ``k`` above the number of distinct values gets one class per distinct value.
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    u, w = np.unique(x, return_counts=True)
    n = len(u)
    out: dict[int, np.ndarray] = {}
    if n == 0:
        return {int(k): np.array([]) for k in ks}
    kmax = int(min(max(ks), n))
    z = u - u.mean()  # centred: smaller prefix sums, less cancellation
    w = w.astype(float)
    c0 = np.concatenate([[0.0], np.cumsum(w)])
    c1 = np.concatenate([[0.0], np.cumsum(w * z)])
    c2 = np.concatenate([[0.0], np.cumsum(w * z * z)])
    _, arg = _dp(c0, c1, c2, n, kmax)
    for k in ks:
        kk = int(min(k, n))
        if kk < 2:
            out[int(k)] = np.array([u[0], u[-1]])
            continue
        ends = []
        j = n - 1
        for m in range(kk - 1, 0, -1):
            s = int(arg[m, j])
            ends.append(u[s - 1])
            j = s - 1
        out[int(k)] = np.concatenate([[u[0]], np.array(ends[::-1]), [u[-1]]])
    return out
