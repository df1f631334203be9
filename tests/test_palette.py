"""One palette: every catalogue domain has its own colour, and no driver-group colour equals a
domain colour (so "anthropogenic" never looks like "mining", "biophysical" never like "climate")."""

from dlddrivers.catalogue import DOMAINS, GROUPS
from dlddrivers.plots.style import DOMAIN_COLORS, GROUP_COLORS, STATUS_COLORS


def test_every_domain_has_its_own_colour():
    missing = [d for d in DOMAINS if d not in DOMAIN_COLORS]
    assert not missing, missing
    colours = [DOMAIN_COLORS[d].upper() for d in DOMAINS]
    dup = sorted({c for c in colours if colours.count(c) > 1})
    assert not dup, f"domains sharing a colour: {[d for d in DOMAINS if DOMAIN_COLORS[d].upper() in dup]}"


def test_group_colours_never_equal_a_domain_colour():
    assert set(GROUPS) <= set(GROUP_COLORS)
    domain = {c.upper() for c in DOMAIN_COLORS.values()}
    clash = {g: c for g, c in GROUP_COLORS.items() if c.upper() in domain}
    assert not clash, clash
    assert not {c.upper() for c in STATUS_COLORS.values()} & domain
