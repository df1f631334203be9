"""DoWhy's refit refuters of the linear estimator as plain least-squares algebra.

DoWhy's ``placebo_treatment`` (permute) and ``random_common_cause`` refuters and its
``add_unobserved_common_cause`` simulation of ``backdoor.linear_regression`` refit an OLS model
per simulation through a new estimator object, a data-frame copy, a statsmodels model and two
interventional predictions; with 100 simulations and 15 treatment-outcome pairs that object
overhead, not the arithmetic, is the causal stage's run time. Here each simulation is the
same arithmetic on arrays, in the same order:

* the same draws: the refuter's ``RandomState`` is consumed exactly as DoWhy consumes it,
  and the simulated confounder comes from numpy's global generator seeded as
  :func:`~dlddrivers.causal.effects.quiet_and_seeded` seeds it;
* the same fit: statsmodels' ``pinv_extended`` (SVD, cut-off ``1e-15 * max singular value``)
  then ``pinv @ y``, on the design ``[1, treatment, adjusters...]`` DoWhy builds;
* the same effect: the mean of the prediction at treatment 1 minus the mean at treatment 0
  (DoWhy's ``_do(1) - _do(0)``), not the coefficient itself;
* the same summary: the mean of the simulated effects and DoWhy's own significance test.

so the refutation table is the one DoWhy writes (tests/test_causal.py compares them bit for
bit on a small case). Only floating-point numeric adjusters are supported (the panel's
indicators are all floats); anything else raises and the caller can fall back to DoWhy.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

#: Refit refuters computed here (the unobserved-common-cause scan: :func:`sensitivity_effect`).
FAST_REFUTERS = ("placebo_treatment", "random_common_cause")


def _pinv_extended(x: np.ndarray, rcond: float = 1e-15) -> np.ndarray:
    """statsmodels.tools.tools.pinv_extended (the OLS ``pinv`` fit), first return value."""
    u, s, vt = np.linalg.svd(x, False)
    cutoff = rcond * np.maximum.reduce(s)
    for i in range(min(u.shape[0], vt.shape[1])):
        s[i] = 1.0 / s[i] if s[i] > cutoff else 0.0
    return np.dot(np.transpose(vt), np.multiply(s[:, np.newaxis], np.transpose(u)))


def linear_effect(t: np.ndarray, adjust: np.ndarray | None, y: np.ndarray,
                  treatment_value: float = 1.0, control_value: float = 0.0) -> float:
    """DoWhy's ``backdoor.linear_regression`` effect of ``t`` on ``y`` adjusting for the
    columns of ``adjust``: OLS of y on [1, t, adjust] (statsmodels' pinv fit), then the mean
    prediction with every t set to ``treatment_value`` minus the mean with ``control_value``.
    """
    n = t.shape[0]
    # Built as DoWhy and statsmodels build it (treatment column, adjusters as pandas'
    # to_numpy() gives them, i.e. in Fortran order, concatenated, then a constant column in
    # front): numpy then picks the same memory order, the prediction's dot product sums in the
    # same order, and the effect is equal to the last bit.
    features = np.ascontiguousarray(t, dtype=float).reshape(n, 1)
    if adjust is not None and adjust.shape[1]:
        features = np.concatenate((features, np.asfortranarray(adjust)), axis=1)
    x = np.column_stack([np.ones(n), features.astype(float, copy=False)])
    beta = np.dot(_pinv_extended(x), y)
    x[:, 1] = treatment_value
    hi = np.dot(x, beta).mean()
    x[:, 1] = control_value
    lo = np.dot(x, beta).mean()
    return hi - lo


def _check_numeric(data: pd.DataFrame, cols: list[str]) -> None:
    bad = [c for c in cols if not pd.api.types.is_float_dtype(data[c])]
    if bad:
        raise TypeError(f"fast refuters need float columns; not float: {bad}")


def _summary(name: str, estimate_value: float, sims: list[float]) -> tuple[float, float]:
    """(mean simulated effect, p value) as DoWhy reports them for refuter ``name``."""
    from dowhy.causal_refuter import test_significance

    arr = np.array(sims)
    # the placebo refuter tests the simulations against 0 (the effect a placebo should have)
    ref_value = 0 if name == "placebo_treatment" else estimate_value
    sig = test_significance(SimpleNamespace(value=ref_value), arr)
    return float(np.mean(arr)), float(sig["p_value"])


def simulate(name: str, data: pd.DataFrame, treatment: str, outcome: str, adjust: list[str],
             num_simulations: int, random_state: int) -> list[float]:
    """The ``num_simulations`` effects DoWhy's refuter ``name`` would fit, for the refuter's
    seed ``random_state`` (its ``RandomState``)."""
    if name not in FAST_REFUTERS:
        raise ValueError(f"refuter {name!r}; expected one of {FAST_REFUTERS}")
    _check_numeric(data, [treatment, outcome, *adjust])
    rs = np.random.RandomState(random_state)
    n = len(data)
    t = data[treatment].to_numpy(dtype=float)
    y = data[outcome].to_numpy(dtype=float)
    a = data[adjust].to_numpy(dtype=float) if adjust else None
    out: list[float] = []
    if name == "placebo_treatment":
        for _ in range(num_simulations):
            idx = rs.choice(n, size=n, replace=False)
            out.append(linear_effect(t[idx], a, y))
    elif name == "random_common_cause":
        for _ in range(num_simulations):
            w = rs.normal(size=n).reshape(n, 1)
            out.append(linear_effect(t, w if a is None else np.concatenate((a, w), axis=1), y))
    return out


def sensitivity_effect(data: pd.DataFrame, treatment: str, outcome: str, adjust: list[str],
                       kappa_t: float, kappa_y: float, seed: int) -> float:
    """DoWhy's ``sensitivity_simulation`` with linear confounder effects on treatment and
    outcome, as arrays: a standard-normal confounder ``w`` (numpy's global generator seeded
    with ``seed``, as :func:`~dlddrivers.causal.effects.quiet_and_seeded` seeds it for DoWhy)
    is added as ``kappa_t * w`` to the treatment and ``-kappa_y * w`` to the outcome, and the
    linear effect refitted."""
    _check_numeric(data, [treatment, outcome, *adjust])
    n = len(data)
    w = np.random.RandomState(seed % (2**32 - 1)).standard_normal(n)
    t = data[treatment].to_numpy(dtype=float) + kappa_t * w
    y = data[outcome].to_numpy(dtype=float) + (-1) * kappa_y * w
    a = data[adjust].to_numpy(dtype=float) if adjust else None
    return linear_effect(t, a, y)


def refute(name: str, data: pd.DataFrame, treatment: str, outcome: str, adjust: list[str],
           estimate_value: float, num_simulations: int, random_state: int) -> tuple[float, float]:
    """(new effect, p value) of DoWhy's refuter ``name`` for the linear estimator, computed as
    array algebra with the same draws (see the module docstring)."""
    sims = simulate(name, data, treatment, outcome, adjust, num_simulations, random_state)
    return _summary(name, estimate_value, sims)


__all__ = ["FAST_REFUTERS", "linear_effect", "refute", "sensitivity_effect", "simulate"]
