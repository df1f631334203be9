"""Figures of the causal stage: the config graph coloured by domain, and effects with their
intervals coloured by refutation status. Draws only from the stage's tables (no statistics)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from dlddrivers.plots.style import (
    COLORS,
    OKABE_ITO,
    apply_style,
    caption_sources,
    draw_interval,
    save,
)

if TYPE_CHECKING:  # imported where used: the stage registry imports this module in every job
    import networkx as nx

ROBUST_COLORS = {"robust (all refuters pass)": OKABE_ITO[2],
                 "not robust (a refuter fails)": OKABE_ITO[5],
                 "not estimated": "#999999"}


def _domain_map(dictionary: pd.DataFrame) -> dict[str, str]:
    if dictionary is None or dictionary.empty:
        return {}
    return dict(zip(dictionary["indicator"], dictionary["domain"], strict=False))


def plot_graph(graph: nx.DiGraph, dictionary: pd.DataFrame, study: dict, outdir: Path,
               audit: pd.DataFrame | None = None) -> list[Path]:
    """The config DAG, nodes coloured by domain; edges the PC audit did not find dashed."""
    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.lines import Line2D

    dom = _domain_map(dictionary)
    g = graph.copy()
    layers = {}
    for layer, nodes in enumerate(nx.topological_generations(g)):
        layers[layer] = sorted(nodes)  # sorted: positions never depend on set (hash) order
        for n in nodes:
            g.nodes[n]["layer"] = layer
    pos = nx.multipartite_layout(g, subset_key=layers)
    n_layers = 1 + max((d.get("layer", 0) for _, d in g.nodes(data=True)), default=0)
    tallest = max((len([n for n, d in g.nodes(data=True) if d.get("layer") == k]) for k in range(n_layers)),
                  default=1)
    fig, ax = plt.subplots(figsize=(max(10, 1.5 * n_layers), max(6.5, 0.75 * tallest)))
    unsupported: set[tuple[str, str]] = set()
    if audit is not None and not audit.empty and "verdict" in audit:
        nots = audit[audit["verdict"] == "not supported"]
        unsupported = set(zip(nots["from"], nots["to"], strict=False))
    solid = [e for e in g.edges if e not in unsupported]
    nx.draw_networkx_edges(g, pos, edgelist=solid, ax=ax, edge_color="#555555", arrowsize=12,
                           node_size=1400)
    nx.draw_networkx_edges(g, pos, edgelist=sorted(unsupported), ax=ax, edge_color="#555555",
                           style="dashed", arrowsize=12, node_size=1400)
    colors = [COLORS.get(dom.get(n, ""), "#DDDDDD") for n in g.nodes]
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colors, node_size=1400, alpha=0.85)
    import textwrap

    names = (dict(zip(dictionary["indicator"], dictionary["label"], strict=False))
             if dictionary is not None and "label" in dictionary else {})
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=6,
                            labels={n: textwrap.fill(str(names.get(n, n)), 18) for n in g.nodes})
    present = sorted({dom.get(n, "unknown") for n in g.nodes})
    handles = [Line2D([], [], marker="o", ls="", color=COLORS.get(d, "#DDDDDD"), label=d)
               for d in present]
    if unsupported:
        handles.append(Line2D([], [], ls="--", color="#555555",
                              label="edge not found by PC audit"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="domain")
    ax.set_title(f"Causal graph (config) - {study.get('name', '')}")
    ax.axis("off")
    src = (caption_sources(dictionary, sep=", ", limit=8, empty=None) + " ").lstrip()
    cap = (f"{src}Graph: {graph.graph.get('source', 'config')}; every edge is an "
           "assumption with a reason. Dashed: adjacency not found by PC on the demeaned panel "
           "(informs, does not override).")
    return save(fig, Path(outdir) / "causal_graph", caption=cap)


def plot_effects(effects: pd.DataFrame, dictionary: pd.DataFrame, study: dict,
                 outdir: Path) -> list[Path]:
    """Effect per within-unit SD of each driver with its CI, one panel per outcome, coloured
    by refutation status."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    eff = effects[effects.get("treatment").notna()] if "treatment" in effects else effects
    if eff.empty:
        return []
    measures = (dict(zip(dictionary["indicator"], dictionary["measure"], strict=False))
                if dictionary is not None and "measure" in dictionary else {})
    outcomes = list(dict.fromkeys(eff["outcome"]))
    fig, axes = plt.subplots(len(outcomes), 1, figsize=(8, 2.2 + 0.45 * len(eff)), squeeze=False)
    for ax, y in zip(axes[:, 0], outcomes, strict=False):
        d = eff[eff["outcome"] == y].reset_index(drop=True)
        labels = [f"{t}{' (t-1)' if lag else ''} [{e.split('.')[-1]}]"
                  for t, lag, e in zip(d["treatment"], d["treatment_lag"], d["estimator"],
                                       strict=False)]
        for i, r in d.iterrows():
            if r.get("status") != "ok" or pd.isna(r["effect_per_sd"]):
                key = "not estimated"
            elif r.get("robust") is True:
                key = "robust (all refuters pass)"
            else:
                key = "not robust (a refuter fails)"
            c = ROBUST_COLORS[key]
            if pd.notna(r["effect_per_sd"]):
                ax.plot([r["effect_per_sd"]], [i], "o", color=c)
                draw_interval(ax, [i], [r["ci_low_per_sd"]], [r["ci_high_per_sd"]], color=c)
            else:
                ax.plot([0], [i], "x", color=c)
        ax.axvline(0, color="#444444", lw=0.8)
        ax.set_yticks(range(len(d)), labels)
        ax.invert_yaxis()
        ax.set_xlabel(f"effect on {y} ({measures.get(y, 'outcome units')}) per within-unit SD "
                      "of the driver")
    handles = [Line2D([], [], marker="o", ls="", color=c, label=k)
               for k, c in ROBUST_COLORS.items()]
    axes[0, 0].legend(handles=handles, loc="lower right")
    axes[0, 0].set_title(f"Causal effects of human drivers - {study.get('name', '')}")
    level = eff["ci_level"].dropna().iloc[0] if eff["ci_level"].notna().any() else 0.95
    src = (caption_sources(dictionary, sep=", ", limit=8, empty=None) + " ").lstrip()
    cap = (f"{src}Estimand: causal effect (DoWhy backdoor on the config graph, "
           f"linear regression on two-way demeaned data); bars: {level:.0%} CI. Robust = placebo, "
           "random common cause, unit subset and unit bootstrap refuters all "
           "pass (rules in refutations.csv).")
    fig.tight_layout()
    return save(fig, Path(outdir) / "causal_effects", caption=cap)


def plot_change(change: pd.DataFrame, study: dict, outdir: Path,
                dictionary: pd.DataFrame | None = None) -> list[Path]:
    """Contributions of each mechanism to the outcome's change between the two periods."""
    import matplotlib.pyplot as plt

    if change is None or change.empty or change["contribution"].isna().all():
        return []
    outcomes = list(dict.fromkeys(change["outcome"]))
    fig, axes = plt.subplots(len(outcomes), 1, figsize=(8, 2.2 + 0.35 * len(change)),
                             squeeze=False)
    for ax, y in zip(axes[:, 0], outcomes, strict=False):
        d = change[change["outcome"] == y].reset_index(drop=True)
        colors = [COLORS.get(x, "#BBBBBB") for x in d["domain"]]
        ax.barh(range(len(d)), d["contribution"], color=colors)
        draw_interval(ax, range(len(d)), d["contribution_ci_low"], d["contribution_ci_high"])
        names = (dict(zip(dictionary["indicator"], dictionary["label"], strict=False))
                 if dictionary is not None and "label" in dictionary else {})
        flagged = d["flag"].fillna("").astype(str).str.len() > 0 if "flag" in d else pd.Series(False, index=d.index)
        ax.set_yticks(range(len(d)), [str(names.get(n, n)) + (" ⚑" if f else "")
                                      for n, f in zip(d["node"], flagged, strict=True)])
        ax.invert_yaxis()
        ax.axvline(0, color="#444444", lw=0.8)
        from dlddrivers.plots.style import draw_flags, flag_lines

        draw_flags(ax, flag_lines(d), loc="lower right")
        ax.set_xlabel(f"contribution to change in mean {y}, {d['baseline'].iloc[0]} -> "
                      f"{d['recent'].iloc[0]} (outcome units)")
    axes[0, 0].set_title(f"Change attribution (Shapley over mechanisms) - {study.get('name', '')}")
    cap = ("How much of the outcome's change between period A and B each driver's mechanism "
           "explains (dowhy.gcm); bars: bootstrap percentile intervals.")
    fig.tight_layout()
    return save(fig, Path(outdir) / "causal_change_attribution", caption=cap)


def plot(tables: dict[str, pd.DataFrame], graph: nx.DiGraph, dictionary: pd.DataFrame,
         study: dict, outdir: Path) -> list[Path]:
    """All causal figures for one study; returns the written paths."""
    apply_style()
    outdir = Path(outdir)
    paths = plot_graph(graph, dictionary, study, outdir, tables.get("audit"))
    if "effects" in tables and not tables["effects"].empty:
        paths += plot_effects(tables["effects"], dictionary, study, outdir)
    paths += plot_change(tables.get("change_attribution"), study, outdir, dictionary)
    return paths
