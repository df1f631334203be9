"""Study-shaped synthetic panels with a known truth, for validating the attribution and causal
methods (issue 6). Never used for results.

Structural equations
--------------------
For unit ``i`` and year index ``t = 0..T-1`` (calendar year ``start_year + t``), with a burn-in
of ``BURN_IN`` years so every autoregressive series starts from its stationary distribution::

    temp_it   = mu_temp * t + g^temp_i (t - tbar) + Lt + AR(phi_temp) innovations
    precip_it = beta_tp * temp_it + mu_precip * t + g^precip_i (t - tbar) + Lp + AR(phi_precip)
    mining_it = s_trend * mu_mining * t + g^mining_i (t - tbar) + AR(phi_mining)
    herd_it   = gamma0 * precip_it + gamma1 * precip_i,t-1 + kappa * mining_it
                + s_trend * mu_herd * t + g^herd_i (t - tbar) + sigma_herd AR(phi_herd)
                + omega * u_it
    u_it      = AR(phi_u) hidden confounder (NOT a panel column)
    y_it      = alpha_i + lambda_t + b_precip precip_it + b_temp temp_it
                + b_herd herd_it + b_mining mining_it + delta * u_it + sigma_y eps_it

``Lt``, ``Lp`` are common (all-unit) year shocks of climate, ``alpha_i``/``lambda_t`` unit and year
effects of the outcome, ``g`` unit-specific trend deviations (mean 0), all innovations
independent standard normal; ``AR(phi)`` is a unit-variance stationary AR(1) series. Herd
persistence comes from its own AR(1) term and from its persistent drivers; the forcings enter
contemporaneously (``precip`` also with a one-year lag), so the total effect of ``mining_t`` on
``y_t`` is ``b_mining + kappa * b_herd``. Confounding: ``gamma0, gamma1 > 0`` makes climate drive herd size
(the same year and, lagged, the previous year) as well as the outcome. Cross-correlation:
``beta_tp`` (temperature drives the water balance) and ``kappa`` (mining takes pasture from
herds; large ``kappa`` = strong collinearity of the two anthropogenic drivers).

Truths (all computed exactly from the equations, no simulation)
--------------------------------------------------------------
Every stochastic part is linear in the standard-normal innovations of one unit, so the
simulator is run once on the identity matrix of innovations to get the linear map ``A`` from
innovations to each series; the population covariance is then ``A A'``.

* **True anthropogenic share of (within) explained variance** (``share_variance``): with
  ``Sigma`` the population covariance of the two-way within-transformed drivers for panels of
  ``T`` years and ``N -> infinity`` units, ``Sigma_jk = (1/T) E[x_j' M x_k]`` with the
  time-centring matrix ``M = I - 11'/T`` (year effects, common shocks and common deterministic
  trends drop out; unit-specific trends, autocorrelation and cross-correlation stay), define the
  value of a driver subset ``S`` as the variance of the best linear predictor of the structural
  signal ``s = b'x`` from ``x_S``::

      V(S) = b' Sigma[:, S] Sigma[S, S]^{-1} Sigma[S, :] b

  The truth is the Shapley value of ``V`` (= LMG of the population R-squared, since ``V(S)/Var(y)``
  is the population R-squared of ``x_S``) summed over the anthropogenic drivers (``herd``,
  ``mining``) divided by ``V(all)``. With independent driver groups this equals the share of the
  signal variance ``Var(b_h'h) / Var(b'x)``; with correlated drivers (confounding on) it is the
  Shapley-of-population-R-squared truth. A hidden confounder ``u`` is *not* part of ``s``: its
  effect on ``y`` counts as noise, so a method that credits it to herds is biased.
* **Share of signal variance** (``share_signal_variance``): ``Var(b_h'h) / (Var(b_h'h) +
  Var(b_c'c))`` (covariance between groups left out), the estimand of the FE-coefficient share.
* **True share of trend** (``share_trend``): the expected (deterministic, innovation-free) mean
  paths ``m_k(t)`` of the drivers define the expected changes over the span
  ``D_anth = b_h' (m_h(T-1) - m_h(0))`` and ``D_clim = b_c' (m_c(T-1) - m_c(0))`` (straight-line
  change; the paths are linear after the burn-in up to numerical precision) and the truth is
  ``D_anth / (D_anth + D_clim)``. The herd's response to the climate trend (confounding) is
  counted in ``D_anth`` (direct contribution of the herd as observed), as in the methods.
  ``D_anth`` and ``D_clim`` themselves (outcome units) are also truths.
* **True causal effects**: total effect of ``herd`` on ``y`` = ``b_herd``; of ``mining`` =
  ``b_mining + kappa * b_herd`` (through herds); direct effects (what a regression on all
  drivers estimates) ``b_herd`` and ``b_mining``.

Calibration: for a target ``anthropogenic_share`` the anthropogenic coefficients are scaled
(root finding) so that ``share_variance`` equals it; the anthropogenic mean trends are scaled
(closed form, the change is affine in the scale) so that ``share_trend`` equals it too; the
outcome noise ``sigma_y`` is set so that the population within R-squared of the observed drivers
is ``r2`` (``noise="low"``: 0.7, ``"high"``: 0.3).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import permutations
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import networkx as nx

BURN_IN = 20
CLIMATE = ("precip", "temp")
ANTHRO = ("herd", "mining")
DRIVERS = (*CLIMATE, *ANTHRO)
OUTCOME = "veg"
#: Domains of the simulated indicators (dictionary rows).
DOMAINS = {"precip": "climate", "temp": "climate", "herd": "grazing", "mining": "mining",
           "veg": "outcome"}
#: Within R-squared of the observed drivers for the two noise levels.
NOISE_R2 = {"low": 0.7, "high": 0.3}
_AR_SERIES = ("temp", "precip", "mining", "herd", "u", "eps")
_SLOPE_SERIES = ("temp", "precip", "mining", "herd")


@dataclass(frozen=True)
class Scenario:
    """One simulation scenario (see the module docstring for the equations).

    ``anthropogenic_share`` is the target of both ``share_variance`` and ``share_trend``;
    ``confounding`` switches ``gamma0/gamma1`` on; ``noise`` picks the within R-squared;
    ``collinearity`` is ``kappa`` (mining -> herd); ``hidden`` is the strength of an omitted
    confounder ``u`` (``omega = delta = hidden``).
    """

    name: str = "base"
    anthropogenic_share: float = 0.5
    confounding: bool = False
    noise: str = "low"
    n_units: int = 21
    n_years: int = 30
    collinearity: float = 0.3
    hidden: float = 0.0
    start_year: int = 1992
    # structural constants
    phi_temp: float = 0.3
    phi_precip: float = 0.2
    phi_mining: float = 0.8
    phi_herd: float = 0.6
    phi_u: float = 0.5
    beta_tp: float = -0.4
    gamma0: float = 0.6
    gamma1: float = 0.3
    sigma_herd: float = 1.0
    slope_sd: float = 0.03
    mu_temp: float = 0.04
    mu_precip: float = -0.01
    mu_mining: float = 0.05
    mu_herd: float = 0.03
    b_precip: float = 0.6
    b_temp: float = -0.4
    b_herd_base: float = -0.5
    b_mining_base: float = -0.3
    unit_effect_sd: float = 3.0
    year_effect_sd: float = 0.5
    climate_common_sd: float = 0.5
    #: linear trend of the outcome's year effects per year (outcome units): a common trend with
    #: no driver behind it (``lambda_t += year_trend * (t - tbar)``)
    year_trend: float = 0.0
    #: placebo scenario: the anthropogenic drivers keep their calibrated trends and persistence
    #: but have no effect on the outcome (``b_herd = b_mining = 0``; every anthropogenic truth 0)
    null_anthropogenic: bool = False
    extra: dict = field(default_factory=dict)

    def with_(self, **kw) -> Scenario:
        """A copy with fields replaced."""
        return replace(self, **kw)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Truth:
    """Coefficients and true values of one calibrated scenario (see module docstring)."""

    b: dict[str, float]
    kappa: float
    gamma0: float
    gamma1: float
    omega: float
    delta: float
    sigma_y: float
    s_trend: float
    share_variance: float
    share_signal_variance: float
    share_trend: float
    change_anthropogenic: float
    change_climate: float
    cf_climate_share: float
    outcome_slope: float
    anthropogenic_slope: float
    effect_total: dict[str, float]
    effect_direct: dict[str, float]
    within_cov: np.ndarray
    r2: float

    def as_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "within_cov"}
        return d


# --------------------------------------------------------------------------- core recursion
def _n_innov(T: int) -> int:
    return len(_AR_SERIES) * (T + BURN_IN) + len(_SLOPE_SERIES)


def _ar(e: np.ndarray, phi: float) -> np.ndarray:
    """AR(1) filter of innovations ``e`` (n, L) along axis 1, stationary start, unit variance."""
    out = np.empty_like(e)
    out[:, 0] = e[:, 0]
    c = np.sqrt(1 - phi**2)
    for t in range(1, e.shape[1]):
        out[:, t] = phi * out[:, t - 1] + c * e[:, t]
    return out


def _paths(sc: Scenario, E: np.ndarray, *, kappa: float, g0: float, g1: float, omega: float,
           s_trend: float, means: bool) -> dict[str, np.ndarray]:
    """All series (n, T) for innovations ``E`` (n, n_innov). With ``means=False`` the result is
    linear in ``E`` (no deterministic trends); with ``means=True`` and ``E = 0`` it is the
    expected path."""
    T = sc.n_years
    L = T + BURN_IN
    blocks = {s: E[:, k * L:(k + 1) * L] for k, s in enumerate(_AR_SERIES)}
    slopes = {s: E[:, len(_AR_SERIES) * L + k] for k, s in enumerate(_SLOPE_SERIES)}
    tt = np.arange(-BURN_IN, T, dtype=float)  # time index incl. burn-in
    tc = tt - (T - 1) / 2.0
    det = (lambda mu: mu * tt[None, :]) if means else (lambda mu: np.zeros((1, L)))

    def slope(s: str) -> np.ndarray:
        return sc.slope_sd * slopes[s][:, None] * tc[None, :]

    temp = _ar(blocks["temp"], sc.phi_temp) + det(sc.mu_temp) + slope("temp")
    precip = (sc.beta_tp * temp + _ar(blocks["precip"], sc.phi_precip) + det(sc.mu_precip)
              + slope("precip"))
    mining = _ar(blocks["mining"], sc.phi_mining) + det(s_trend * sc.mu_mining) + slope("mining")
    u = _ar(blocks["u"], sc.phi_u)
    prev = np.concatenate([precip[:, :1], precip[:, :-1]], axis=1)
    herd = (g0 * precip + g1 * prev + kappa * mining + sc.sigma_herd * _ar(blocks["herd"], sc.phi_herd)
            + omega * u + det(s_trend * sc.mu_herd) + slope("herd"))
    cut = slice(BURN_IN, L)
    return {"temp": temp[:, cut], "precip": precip[:, cut], "mining": mining[:, cut],
            "herd": herd[:, cut], "u": u[:, cut], "eps": blocks["eps"][:, cut]}


def _within_cov(sc: Scenario, names: Sequence[str], **kw) -> np.ndarray:
    """Exact population within covariance (N -> inf, T years) of ``names`` (see docstring)."""
    K = _n_innov(sc.n_years)
    P = _paths(sc, np.eye(K), means=False, **kw)
    A = [P[s] - P[s].mean(axis=1, keepdims=True) for s in names]
    T = sc.n_years
    return np.array([[float(np.sum(a * b)) / T for b in A] for a in A])


def shapley_values(cov: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shapley values of ``V(S) = b' C[:,S] C[S,S]^-1 C[S,:] b`` by brute force over orders.

    An implementation independent of :mod:`dlddrivers.methods.relative_importance` (used for
    the truth, so the LMG code is checked against it rather than against itself).
    """
    p = len(b)

    def V(S: tuple[int, ...]) -> float:
        if not S:
            return 0.0
        idx = list(S)
        c = cov[:, idx].T @ b
        return float(c @ np.linalg.solve(cov[np.ix_(idx, idx)], c))

    cache: dict[frozenset, float] = {}
    phi = np.zeros(p)
    orders = list(permutations(range(p)))
    for order in orders:
        S: list[int] = []
        for j in order:
            k0 = frozenset(S)
            k1 = frozenset([*S, j])
            if k0 not in cache:
                cache[k0] = V(tuple(sorted(k0)))
            if k1 not in cache:
                cache[k1] = V(tuple(sorted(k1)))
            phi[j] += cache[k1] - cache[k0]
            S.append(j)
    return phi / len(orders)


def _share_var(cov: np.ndarray, b: np.ndarray) -> float:
    phi = shapley_values(cov, b)
    return float(phi[2:].sum() / phi.sum())


def calibrate(sc: Scenario) -> Truth:
    """Coefficients and exact truths for scenario ``sc`` (module docstring, "Calibration")."""
    from scipy.optimize import brentq

    kappa = float(sc.collinearity)
    g0, g1 = (sc.gamma0, sc.gamma1) if sc.confounding else (0.0, 0.0)
    omega = delta = float(sc.hidden)
    kw = {"kappa": kappa, "g0": g0, "g1": g1, "omega": omega}
    names = [*DRIVERS, "u", "eps"]
    cov_all = _within_cov(sc, names, s_trend=1.0, **kw)
    cov = cov_all[:4, :4]
    bc = np.array([sc.b_precip, sc.b_temp])
    bh0 = np.array([sc.b_herd_base, sc.b_mining_base])
    target = float(sc.anthropogenic_share)
    if not 0 < target < 1:
        raise ValueError(f"anthropogenic_share must be in (0, 1); got {target}")

    def f(logs: float) -> float:
        return _share_var(cov, np.r_[bc, np.exp(logs) * bh0]) - target

    logs = brentq(f, -12.0, 12.0, xtol=1e-10)
    b = np.r_[bc, np.exp(logs) * bh0]
    share_var = _share_var(cov, b)
    sig_h = float(b[2:] @ cov[2:, 2:] @ b[2:])
    sig_c = float(b[:2] @ cov[:2, :2] @ b[:2])
    signal = float(b @ cov @ b)
    r2 = NOISE_R2[sc.noise] if isinstance(sc.noise, str) else float(sc.noise)
    var_u = cov_all[4, 4]
    cov_su = float(b @ cov_all[:4, 4])
    # Var(y_within) = signal + 2 delta cov(s,u) + delta^2 var_u + sigma_y^2 var_eps; the
    # projection R2 of the observed drivers is set to r2 (without u: exactly signal / var_y).
    var_eps = cov_all[5, 5]
    resid = signal / r2 - signal - 2 * delta * cov_su - delta**2 * var_u
    sigma_y = float(np.sqrt(max(resid, 0.0) / var_eps))
    # trends: expected paths are affine in s_trend
    T = sc.n_years
    zero = np.zeros((1, _n_innov(T)))

    def changes(s: float) -> tuple[float, float, dict]:
        m = _paths(sc, zero, means=True, s_trend=s, **kw)
        d = {k: float(m[k][0, -1] - m[k][0, 0]) for k in DRIVERS}
        dc = b[0] * d["precip"] + b[1] * d["temp"]
        dh = b[2] * d["herd"] + b[3] * d["mining"]
        return dh, dc, m

    a0, dc, _ = changes(0.0)
    a1 = changes(1.0)[0] - a0
    want = target / (1 - target) * dc
    s_trend = (want - a0) / a1 if abs(a1) > 1e-12 else 0.0
    dh, dc, m = changes(s_trend)
    k = max(1, min(5, T // 2))
    sig = {d: b[i] * m[d][0] for i, d in enumerate(DRIVERS)}
    cf_c = float(sum((sig[d][-k:].mean() - sig[d][:k].mean()) for d in CLIMATE))
    cf_h = float(sum((sig[d][-k:].mean() - sig[d][:k].mean()) for d in ANTHRO))
    bd = dict(zip(DRIVERS, map(float, b), strict=True))
    return Truth(
        b=bd, kappa=kappa, gamma0=g0, gamma1=g1, omega=omega, delta=delta, sigma_y=sigma_y,
        s_trend=float(s_trend), share_variance=share_var,
        share_signal_variance=sig_h / (sig_h + sig_c), share_trend=dh / (dh + dc),
        change_anthropogenic=dh, change_climate=dc,
        cf_climate_share=cf_c / (cf_c + cf_h) if cf_c + cf_h != 0 else float("nan"),
        outcome_slope=(dh + dc) / (T - 1), anthropogenic_slope=dh / (T - 1),
        effect_total={"herd": bd["herd"], "mining": bd["mining"] + kappa * bd["herd"]},
        effect_direct={"herd": bd["herd"], "mining": bd["mining"]},
        within_cov=cov, r2=signal / (signal + 2 * delta * cov_su + delta**2 * var_u
                                     + sigma_y**2 * var_eps),
    ) if not sc.null_anthropogenic else _null_truth(sc, bd, cov, dc, kw, s_trend, sigma_y, T)


def _null_truth(sc: Scenario, bd: dict, cov: np.ndarray, dc: float, kw: dict, s_trend: float,
                sigma_y: float, T: int) -> Truth:
    """Truth of a placebo scenario: anthropogenic coefficients set to 0 after calibration (the
    drivers keep their trends, persistence and confounding; the noise keeps its size). The LMG
    truth stays the Shapley share of the population R2: 0 without confounding, positive with it
    (herds that follow the climate predict the climate's signal)."""
    b0 = {**bd, "herd": 0.0, "mining": 0.0}
    b = np.array([b0[d] for d in DRIVERS])
    share_var = _share_var(cov, b)
    signal = float(b @ cov @ b)
    k = max(1, min(5, T // 2))
    m = _paths(sc, np.zeros((1, _n_innov(T))), means=True, s_trend=s_trend, **kw)
    cf_c = float(sum(b0[d] * (m[d][0][-k:].mean() - m[d][0][:k].mean()) for d in CLIMATE))
    var_eps = _within_cov(sc, ["eps"], s_trend=1.0, **kw)[0, 0]
    return Truth(
        b=b0, kappa=kw["kappa"], gamma0=kw["g0"], gamma1=kw["g1"], omega=kw["omega"],
        delta=kw["omega"], sigma_y=sigma_y, s_trend=float(s_trend), share_variance=share_var,
        share_signal_variance=0.0, share_trend=0.0, change_anthropogenic=0.0, change_climate=dc,
        cf_climate_share=1.0 if cf_c != 0 else float("nan"), outcome_slope=dc / (T - 1),
        anthropogenic_slope=0.0, effect_total={"herd": 0.0, "mining": 0.0},
        effect_direct={"herd": 0.0, "mining": 0.0}, within_cov=cov,
        r2=signal / (signal + sigma_y**2 * var_eps))


# --------------------------------------------------------------------------- panels
def dictionary() -> pd.DataFrame:
    """Indicator dictionary of the simulated panel (interface columns)."""
    labels = {"precip": "growing-season water balance", "temp": "summer temperature",
              "herd": "grazing pressure", "mining": "mining activity", "veg": "vegetation"}
    rows = []
    for k, dom in DOMAINS.items():
        rows.append({"indicator": k, "role": "outcome" if k == OUTCOME else "driver",
                     "domain": dom, "measure": "standardised units", "label": labels[k],
                     "source": "dlddrivers.synthetic", "provider_url": "", "licence": "CC0",
                     "formula": ""})
    return pd.DataFrame(rows)


def graph(confounding_edge: bool = True) -> nx.DiGraph:
    """The simulator's causal graph; ``confounding_edge=False`` gives a wrong graph that omits
    ``precip -> herd``."""
    import networkx as nx

    g = nx.DiGraph()
    edges = [("temp", "precip", "temperature drives the water balance"),
             ("precip", "herd", "herds follow forage"),
             ("mining", "herd", "mining takes pasture from herders"),
             ("precip", OUTCOME, "water balance sets growth"),
             ("temp", OUTCOME, "heat cuts growth"),
             ("herd", OUTCOME, "grazing removes biomass"),
             ("mining", OUTCOME, "mines degrade pasture")]
    for a, c, r in edges:
        if not confounding_edge and (a, c) == ("precip", "herd"):
            continue
        g.add_edge(a, c, reason=r)
    g.add_nodes_from(DRIVERS)
    return g


def study(sc: Scenario, seed: int, units: Sequence[str] | None = None) -> dict:
    """A study dict (interface shape) for a simulated panel."""
    units = list(units) if units is not None else [f"S{i:03d}" for i in range(sc.n_units)]
    return {"name": f"synthetic_{sc.name}", "level": "synthetic", "units": units,
            "years": [sc.start_year, sc.start_year + sc.n_years - 1], "outcomes": [OUTCOME],
            "drivers": list(DRIVERS), "impacts": [], "seed": int(seed)}


def simulate(sc: Scenario, seed: int, truth: Truth | None = None,
             units: Sequence[str] | None = None) -> tuple[pd.DataFrame, Truth]:
    """Simulate one panel of scenario ``sc`` (columns ``unit, year, precip, temp, herd, mining,
    veg``; the hidden confounder is not a column). Returns ``(panel, truth)``.

    The random stream is seeded by ``seed`` and the scenario name, so different scenarios with
    the same seed are independent replications. :func:`simulate_seeds` gives the same panels
    for several seeds at once."""
    truth = truth or calibrate(sc)
    draws = _seed_draws(sc, int(seed))
    kw = _path_kw(truth)
    P = _paths(sc, draws["E"], means=False, **kw)
    M = _paths(sc, np.zeros((1, _n_innov(sc.n_years))), means=True, **kw)
    return _panel(sc, truth, P, M, draws, units), truth


def simulate_seeds(sc: Scenario, seeds: Sequence[int], truth: Truth | None = None,
                   units: Sequence[str] | None = None) -> tuple[list[pd.DataFrame], Truth]:
    """The panels of :func:`simulate` for every seed in ``seeds`` (same order), vectorised: each
    seed's innovations come from its own stream exactly as in :func:`simulate`, and the
    recursions of all seeds run as one array (the series are row-wise, so every panel is
    identical to the one-seed simulation). The scenario is calibrated once.
    Returns ``(panels, truth)``."""
    truth = truth or calibrate(sc)
    draws = [_seed_draws(sc, int(s)) for s in seeds]
    if not draws:
        return [], truth
    kw = _path_kw(truth)
    N = sc.n_units
    P_all = _paths(sc, np.concatenate([d["E"] for d in draws], axis=0), means=False, **kw)
    M = _paths(sc, np.zeros((1, _n_innov(sc.n_years))), means=True, **kw)
    panels = [_panel(sc, truth, {k: v[i * N:(i + 1) * N] for k, v in P_all.items()}, M, d, units)
              for i, d in enumerate(draws)]
    return panels, truth


def _path_kw(truth: Truth) -> dict:
    return {"kappa": truth.kappa, "g0": truth.gamma0, "g1": truth.gamma1, "omega": truth.omega,
            "s_trend": truth.s_trend}


def _seed_draws(sc: Scenario, seed: int) -> dict[str, np.ndarray]:
    """Every random draw of one panel, in the stream's order: unit innovations, common climate
    shocks, unit and year effects of the outcome."""
    # the scenario name enters the stream: scenarios with the same seed are independent draws
    rng = np.random.default_rng([int(seed), zlib.crc32(sc.name.encode()), 6])
    N, T = sc.n_units, sc.n_years
    E = rng.standard_normal((N, _n_innov(T)))
    lt = rng.standard_normal(T)
    lp = rng.standard_normal(T)
    alpha = rng.standard_normal(N)
    lam = rng.standard_normal(T)
    return {"E": E, "lt": lt, "lp": lp, "alpha": alpha, "lam": lam}


def _panel(sc: Scenario, truth: Truth, P: Mapping[str, np.ndarray], M: Mapping[str, np.ndarray],
           draws: Mapping[str, np.ndarray], units: Sequence[str] | None) -> pd.DataFrame:
    """The panel of one seed from its unit paths ``P`` (no means), the expected paths ``M`` and
    its common draws."""
    N, T = sc.n_units, sc.n_years
    # common climate shocks propagate through the same equations: approximate by shocks on
    # temp and precip levels shared by all units (absorbed by year effects in within methods)
    lt = sc.climate_common_sd * draws["lt"]
    lp = sc.climate_common_sd * draws["lp"]
    X = {k: P[k] + M[k] for k in DRIVERS}
    X["temp"] = X["temp"] + lt[None, :]
    X["precip"] = X["precip"] + sc.beta_tp * lt[None, :] + lp[None, :]
    # herd responds to the common precip shock too (keeps the equation exact for the
    # within-unit part; the common part is a year effect)
    X["herd"] = X["herd"] + truth.gamma0 * (sc.beta_tp * lt + lp)[None, :]
    alpha = sc.unit_effect_sd * draws["alpha"]
    lam = sc.year_effect_sd * draws["lam"] + sc.year_trend * (np.arange(T) - (T - 1) / 2)
    y = (alpha[:, None] + lam[None, :] + sum(truth.b[k] * X[k] for k in DRIVERS)
         + truth.delta * P["u"] + truth.sigma_y * P["eps"])
    units = list(units) if units is not None else [f"S{i:03d}" for i in range(N)]
    df = pd.DataFrame({"unit": np.repeat(units, T),
                       "year": np.tile(np.arange(sc.start_year, sc.start_year + T), N).astype(int)})
    for k in DRIVERS:
        df[k] = X[k].ravel()
    df[OUTCOME] = y.ravel()
    return df


def scenario_for_study(study_cfg: Mapping, **kw) -> Scenario:
    """A scenario with a real study's shape (number of units, years, start year)."""
    y0, y1 = (int(v) for v in study_cfg["years"])
    return Scenario(name=str(study_cfg.get("name", "study")), n_units=len(study_cfg["units"]),
                    n_years=y1 - y0 + 1, start_year=y0, **kw)


def outcome_from_drivers(panel: pd.DataFrame, climate: Sequence[str], anthro: Sequence[str],
                         *, b: Mapping[str, float], r2: float = 0.5, seed: int = 0,
                         outcome: str = OUTCOME) -> tuple[pd.DataFrame, dict]:
    """Semi-synthetic panel: the real panel's drivers (complete cases) and a simulated outcome.

    ``y = alpha_i + lambda_t + sum_k b_k x_k + sigma eps`` with drivers standardised by their
    within SD (so ``b`` is per within-SD). Truths (exact for this fixed design, the sample
    within covariance ``S`` of the observed drivers being the population): ``share_variance``
    = Shapley share of ``V(S)`` (as in :func:`calibrate` with ``Sigma = S``),
    ``share_signal_variance``, ``effect_direct`` (per within-SD). ``sigma`` gives within
    R-squared ``r2``. Returns ``(panel with standardised drivers and the outcome, truth dict)``.
    """
    from .methods.paneltools import codes, complete_cases, within

    cols = [*climate, *anthro]
    df, _ = complete_cases(panel, cols)
    W = within(df[cols].to_numpy(float), codes(df["unit"]), codes(df["year"]))
    sd = W.std(axis=0)
    if np.any(sd <= 0):
        raise ValueError("a driver has no within variation")
    df[cols] = df[cols].to_numpy(float) / sd
    Wz = W / sd
    S = (Wz.T @ Wz) / len(Wz)
    bv = np.array([float(b[c]) for c in cols])
    phi = shapley_values(S, bv)
    nc = len(climate)
    signal = float(bv @ S @ bv)
    rng = np.random.default_rng([int(seed), 7])
    sigma = np.sqrt(signal * (1 - r2) / r2)
    uc, yc = codes(df["unit"]), codes(df["year"])
    y = (3.0 * rng.standard_normal(uc.max() + 1)[uc] + 0.5 * rng.standard_normal(yc.max() + 1)[yc]
         + df[cols].to_numpy(float) @ bv + sigma * rng.standard_normal(len(df)))
    df[outcome] = y
    sh = float(bv[nc:] @ S[nc:, nc:] @ bv[nc:])
    scl = float(bv[:nc] @ S[:nc, :nc] @ bv[:nc])
    truth = {"share_variance": float(phi[nc:].sum() / phi.sum()),
             "share_signal_variance": sh / (sh + scl),
             "effect_direct": dict(zip(cols, map(float, bv), strict=True)), "sigma": float(sigma)}
    return df, truth
