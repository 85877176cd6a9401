"""Wide characters (Chinese server messages) survive a notification that crosses a pane's edge.

Textual's compositor cuts every line at each widget's left and right edge, paints the pieces front to
back, and a character two cells wide that straddles a cut is replaced by two spaces. A toast over the
sidebar's edge lost the 他 of "已被其他终端接听" that way (upstream: Textualize/textual#6357, open for
Textual 8). Here, where one widget wins the pieces on both sides of a cut and a wide character of
that widget straddles it, the two pieces stay one: the first holds the whole run and the second an
empty placeholder, so nothing behind can claim it. Every other line is painted exactly as Textual does.

This overrides a private method of the pinned Textual version (``pyproject.toml`` keeps it exact);
``tests/tui/test_sizes.py`` shows a toast across the sidebar with every character, and fails if an
upgrade changes what this relies on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.cells import cell_len
from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip

_PLACEHOLDER = Strip([], 0)


class KeepsWideCharacters:
    """A screen mixin (list it before the ``Screen`` class): the screen is painted by :class:`WideCharCompositor`.

    Every screen of the phone uses it, dialogs included: a notification can appear over any of them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._compositor = WideCharCompositor()


class WideCharCompositor(Compositor):
    """Textual's compositor, except that no cut splits a wide character between pieces of the same widget."""

    def _render_chops(
        self,
        crop: Region,
        is_rendered_line: Callable[[int], bool],
    ) -> Sequence[Mapping[int, Strip | None]]:
        cuts = self.cuts
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
        for region, clip, strips in self._get_renders(crop):
            render_region = region.intersection(clip)
            render_x = render_region.x
            first_cut, last_cut = render_region.column_span
            for y, strip in zip(render_region.line_range, strips, strict=False):
                if not is_rendered_line(y):
                    continue
                line = chops[y]
                final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                kept, merged = final_cuts, []
                if len(final_cuts) > 2:  # a cut inside this widget's piece of the line
                    kept, merged = _cuts_to_keep(final_cuts, _wide_straddles(strip, render_x), line)
                for cut, piece in zip(kept, strip.divide([cut - render_x for cut in kept[1:]]), strict=False):
                    if line.get(cut) is None:
                        line[cut] = piece
                for cut in merged:
                    line[cut] = _PLACEHOLDER
        return chops


def _wide_straddles(strip: Strip, x: int) -> set[int]:
    """Screen columns that fall in the middle of a wide character of ``strip`` (which starts at ``x``)."""
    straddles: set[int] = set()
    if all(segment.text.isascii() for segment in strip):
        return straddles
    for segment in strip:
        for character in segment.text:
            width = cell_len(character)
            if width == 2:
                straddles.add(x + 1)  # the cut that would fall between its two cells
            x += width
    return straddles


def _cuts_to_keep(
    final_cuts: list[int], straddles: set[int], line: Mapping[int, Strip | None]
) -> tuple[list[int], list[int]]:
    """Drop a cut inside a wide character when this widget wins the pieces on both sides of it.

    Returns the cuts to divide at and the dropped ones, whose pieces become placeholders.
    """
    if not straddles:
        return final_cuts, []
    kept = [final_cuts[0]]
    merged: list[int] = []
    for cut in final_cuts[1:-1]:
        if cut in straddles and line.get(kept[-1]) is None and line.get(cut) is None:
            merged.append(cut)
        else:
            kept.append(cut)
    kept.append(final_cuts[-1])
    return kept, merged
