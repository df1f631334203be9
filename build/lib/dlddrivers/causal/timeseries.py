"""Exploratory Granger tests per unit on first differences (statsmodels)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlddrivers.causal.effects import quiet_and_seeded


def granger_table(panel: pd.DataFrame, drivers: list[str], outcomes: list[str],
                  maxlag: int = 2) -> pd.DataFrame:
    """Does a driver's past help predict an outcome in one unit? (exploratory, predictive).

    For every unit, driver and outcome: take the unit's complete consecutive years, first
    differences of both series (stationarity), and statsmodels ``grangercausalitytests`` on
    ``[d outcome, d driver]`` for lags 1..``maxlag`` (SSR F test).

    Returns
    -------
    DataFrame
        ``unit, driver, outcome, lag, f_stat, p_value, df_num, df_denom, n_obs, n_units,
        n_years, test, estimand, status``. ``estimand`` is
        ``association (exploratory Granger, predictive not causal)``. With 14-33 annual points
        the tests have little power; a non-significant p is not evidence of no effect.

    References
    ----------
    Granger, C.W.J. (1969). Econometrica 37(3):424-438.
    """
    from statsmodels.tsa.stattools import grangercausalitytests

    rows: list[dict] = []
    est = "association (exploratory Granger, predictive not causal)"
    test = "ssr F test on first differences"
    for unit, g in panel.sort_values(["unit", "year"]).groupby("unit", sort=True):
        for y in outcomes:
            for x in drivers:
                if x == y or x not in g or y not in g:
                    continue
                s = g[["year", y, x]].dropna()
                # first differences only between consecutive years
                d = s.set_index("year").reindex(range(int(s.year.min()), int(s.year.max()) + 1)) \
                    if len(s) else s.set_index("year")
                dd = d.diff().dropna()
                n = len(dd)
                base = {"unit": unit, "driver": x, "outcome": y, "n_obs": n, "n_units": 1,
                        "n_years": n, "test": test, "estimand": est}
                status = "ok"
                res = None
                if n < 3 * maxlag + 4:
                    status = f"insufficient_data: {n} differenced years < {3 * maxlag + 4}"
                elif dd[x].std() == 0 or dd[y].std() == 0:
                    status = "insufficient_data: constant differenced series"
                else:
                    try:
                        with quiet_and_seeded():
                            res = grangercausalitytests(dd[[y, x]].to_numpy(), maxlag=maxlag)
                    except (ValueError, np.linalg.LinAlgError) as exc:
                        status = f"failed: {exc}"
                for lag in range(1, maxlag + 1):
                    if res is not None and lag in res:
                        f, p, dfd, dfn = res[lag][0]["ssr_ftest"]
                        rows.append({**base, "lag": lag, "f_stat": float(f), "p_value": float(p),
                                     "df_num": int(dfn), "df_denom": float(dfd), "status": status})
                    else:
                        rows.append({**base, "lag": lag, "f_stat": np.nan, "p_value": np.nan,
                                     "df_num": np.nan, "df_denom": np.nan, "status": status})
    cols = ["unit", "driver", "outcome", "lag", "f_stat", "p_value", "df_num", "df_denom",
            "n_obs", "n_units", "n_years", "test", "estimand", "status"]
    return pd.DataFrame(rows, columns=cols)
