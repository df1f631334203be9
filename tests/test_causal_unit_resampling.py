"""The unit-resampling refuters' draws as arrays equal the data-frame construction they replace
(concatenate the drawn units' frames, relabel bootstrap repeats, ``_refit``) to the last bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlddrivers.causal import sensitivity as SV
from dlddrivers.methods.inference import position_p
from dlddrivers.methods.paneltools import within_frame


def _panel(balanced: bool) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    rows = []
    for u in range(11):
        for t in range(2001, 2019):
            if not balanced and (u + t) % 7 == 0:  # gaps: alternating projections iterate
                continue
            c = rng.normal() + 0.3 * u
            d = 0.7 * c + rng.normal() + 0.05 * t
            rows.append({"unit": f"A{u}", "year": t, "c": c, "d": d,
                         "y": 0.5 * d - c + 0.2 * u + rng.normal()})
    return pd.DataFrame(rows)


def _reference(data, treatment, outcome, adjust, est, n_sim, subset_fraction, seed):
    """unit_resampling_refuters as written with data frames (the code the arrays replace)."""
    rng = np.random.default_rng([int(seed), 13])
    units = np.array(sorted(data["unit"].astype(str).unique()))
    G = len(units)
    by_unit = {u: g for u, g in data.assign(unit=data["unit"].astype(str)).groupby("unit")}
    m = max(2, int(round(subset_fraction * G)))
    out = {}
    for name in ("unit_subset", "unit_bootstrap"):
        vals = []
        for _ in range(int(n_sim)):
            if name == "unit_subset":
                pick = rng.choice(units, size=min(m, G), replace=False)
                d = pd.concat([by_unit[u] for u in pick], ignore_index=True)
            else:
                pick = rng.choice(units, size=G, replace=True)
                d = pd.concat([by_unit[u].assign(unit=f"{u}#{i}") for i, u in enumerate(pick)],
                              ignore_index=True)
            vals.append(SV._refit(d, treatment, outcome, adjust))
        out[name] = np.asarray(vals, float)
    return out


@pytest.mark.parametrize("balanced", [True, False])
@pytest.mark.parametrize("adjust", [["c"], []])
def test_unit_resampling_arrays_equal_data_frame_refits_bit_for_bit(balanced, adjust):
    data = within_frame(_panel(balanced), ["d", "y", *adjust], two_way=True)
    data = data[["unit", "year", "d", "y", *adjust]]
    full = SV._refit(data, "d", "y", adjust)
    est = {"effect": full, "ci_low": full - 0.05, "ci_high": full + 0.05}
    ref = _reference(data, "d", "y", adjust, est, 40, 0.7, seed=17)
    rows = SV.unit_resampling_refuters(data, "d", "y", adjust, est, n_sim=40,
                                       subset_fraction=0.7, seed=17)
    for r in rows:
        v = ref[r["refuter"]]
        assert v.std() > 0  # the draws differ from each other
        assert r["new_effect"] == float(v.mean()), r["refuter"]
        assert r["refuter_p_value"] == position_p(v, full)
        assert r["n_simulations"] == 40
    # and each draw: the resampler's arrays refit to the same coefficient as the frames
    units = np.array(sorted(data["unit"].unique()))
    res = SV._UnitResampler(data, ["d", "y", *adjust], units)
    pick = units[[3, 0, 3, 7, 10, 1, 1, 2, 9, 4, 5]]
    d = pd.concat([data[data.unit == u].assign(unit=f"{u}#{i}") for i, u in enumerate(pick)],
                  ignore_index=True)
    values, unit, year = res.draw(pick, relabel=True)
    assert values.flags["F_CONTIGUOUS"]
    assert np.array_equal(values, d[["d", "y", *adjust]].to_numpy(float))
    assert SV._refit_arrays(values, unit, year) == SV._refit(d, "d", "y", adjust)
