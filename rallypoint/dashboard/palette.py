"""Colours the dashboard uses: the Okabe–Ito palette, distinguishable with the common
colour-vision deficiencies (Okabe & Ito, "Color Universal Design", 2008)."""

from __future__ import annotations

OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Member roles in the network view.
ROLE_COLOURS: dict[str, str] = {
    "seeder": OKABE_ITO["vermillion"],
    "amplifier": OKABE_ITO["blue"],
    "bridge": OKABE_ITO["bluish_green"],
}
OTHER_COLOUR = OKABE_ITO["black"]

#: Triage statuses, in the queue and on the cluster page.
STATUS_COLOURS: dict[str, str] = {
    "unreviewed": "#7F7F7F",
    "confirmed": OKABE_ITO["vermillion"],
    "escalated": OKABE_ITO["reddish_purple"],
    "dismissed": OKABE_ITO["sky_blue"],
}

#: A fixed colour per coordination / evidence type, cycling through the palette.
SERIES_COLOURS: tuple[str, ...] = (
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["yellow"],
    OKABE_ITO["black"],
)


def series_colour(name: str, names: list[str]) -> str:
    """The colour of series ``name`` among ``names`` (stable for a sorted list)."""
    return SERIES_COLOURS[sorted(names).index(name) % len(SERIES_COLOURS)] if name in names else OTHER_COLOUR

#: Edge weights, light to heavy third: one hue getting darker, ordered for every reader.
WEIGHT_SHADES: tuple[str, ...] = ("#9ECAE1", "#4292C6", "#08306B")
#: Edge types, commonest first: none of the roles' colours, so an edge never looks like a role.
EDGE_TYPE_COLOURS: tuple[str, ...] = (OKABE_ITO["orange"], OKABE_ITO["reddish_purple"], OKABE_ITO["sky_blue"])
OTHER_TYPES_COLOUR = "#777777"
#: Edges between two sub-groups of a cluster: faint grey, behind the groups.
BETWEEN_COLOUR = "#B0B0B0"
#: Accounts of an expanded context, by where they are; and every node colour the network draws.
CONTEXT_COLOURS: dict[str, str] = {
    "chosen": OKABE_ITO["vermillion"],
    "this cluster": OKABE_ITO["blue"],
    "another cluster": OKABE_ITO["orange"],
    "in no cluster": "#8C8C8C",
}
NODE_COLOURS: dict[str, str] = ROLE_COLOURS | CONTEXT_COLOURS
