"""Synthetic laparoscopic scenes: a scene graph per frame and its rendering.

A frame is a 3x3 grid of cells. Every cell holds one anatomy region (one of the six classes of
:data:`anatomy_r1_verl.schema.ANATOMY_CLASSES`, painted in the frame's look, :data:`LOOKS`: ``classic``, a colour
and texture per class, or ``lookalike``, the appearance derived from the anatomical closeness table so that close
classes look alike, :mod:`anatomy_r1_verl.synthetic.appearance`) and
0-3 cells also hold a small metallic instrument with a coloured band. At the default 84 px a cell
is 28 px, i.e. one merged image token of Qwen2.5-VL (patch 14, merge 2).

The scene graph is a plain JSON-serialisable dict::

    {"grid": 3,
     "objects": [{"id": 0, "kind": "anatomy", "class": "Liver", "pos": "top-left",
                  "row": 0, "col": 0, "colour": "red"}, ...,
                 {"id": 9, "kind": "instrument", "class": "hook", "pos": "center",
                  "row": 1, "col": 1, "colour": "orange"}],
     "relations": {"left": [[a, b], ...], "right": ..., "above": ..., "below": ...}}

``[a, b]`` in ``relations["left"]`` reads "object a is left of object b". Relations are
*adjacent-cell* relations: a is above b iff a is in the cell directly above b's cell (same
column, row - 1); likewise for below / left / right. Objects in the same cell are not related.
With one anatomy per cell, "the anatomy above X" is then always a single region, which keeps
question answers unique.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from anatomy_r1_verl.schema import ANATOMY_CLASSES

GRID = 3
POSITIONS = (
    "top-left",
    "top-mid",
    "top-right",
    "mid-left",
    "center",
    "mid-right",
    "bottom-left",
    "bottom-mid",
    "bottom-right",
)

# class -> (colour attribute, base RGB, texture)
ANATOMY_STYLE: dict[str, tuple[str, tuple[int, int, int], str]] = {
    "Liver": ("red", (140, 28, 32), "smooth"),
    "Gallbladder": ("green", (70, 140, 60), "glossy"),
    "Cystic Plate": ("yellow", (220, 190, 70), "grainy"),
    "Gut": ("pink", (225, 125, 160), "striped"),
    "Omentum": ("white", (232, 222, 192), "blobby"),
    "Abdominal Wall Cavity": ("blue", (62, 50, 140), "gradient"),
}
assert tuple(ANATOMY_STYLE) == tuple(ANATOMY_CLASSES)
ANATOMY_COLOUR = {cls: style[0] for cls, style in ANATOMY_STYLE.items()}
# every colour word a region may be named by, in any look (appearance.colour_name picks the look-alike ones)
REGION_COLOURS = ("red", "green", "yellow", "pink", "white", "blue", "purple", "brown", "grey")

INSTRUMENTS = ("grasper", "hook", "scissors", "clipper", "bipolar", "irrigator")
# Band colours are disjoint from the anatomy colours, so a colour names either kind, never both.
BAND_RGB = {"orange": (250, 140, 20), "cyan": (20, 210, 230), "black": (15, 15, 15)}
# P(number of instruments in a frame = 0, 1, 2, 3)
INSTRUMENT_COUNT_WEIGHTS = (0.15, 0.35, 0.30, 0.20)

RELATIONS = ("left", "right", "above", "below")
# (d_row, d_col) from the reference object to the object that stands in the relation to it:
# the object "above" X is at X's row - 1.
RELATION_OFFSET = {"left": (0, -1), "right": (0, 1), "above": (-1, 0), "below": (1, 0)}

_METAL_DARK = (78, 78, 86)
_METAL_LIGHT = (188, 188, 198)


def cell_of(pos: str) -> tuple[int, int]:
    """(row, col) of a position name such as ``"top-mid"``."""
    i = POSITIONS.index(pos)
    return divmod(i, GRID)


def related(a: dict, rel: str, b: dict) -> bool:
    """True when object ``a`` is ``rel`` object ``b`` (e.g. a is "above" b), adjacent-cell semantics."""
    dr, dc = RELATION_OFFSET[rel]
    return a["row"] == b["row"] + dr and a["col"] == b["col"] + dc


def relations(objects: list[dict]) -> dict[str, list[list[int]]]:
    return {rel: [[a["id"], b["id"]] for a in objects for b in objects if related(a, rel, b)] for rel in RELATIONS}


def _obj(i: int, kind: str, cls: str, cell: int, colour: str) -> dict:
    row, col = divmod(cell, GRID)
    return {"id": i, "kind": kind, "class": cls, "pos": POSITIONS[cell], "row": row, "col": col, "colour": colour}


def sample_layout(
    rng: np.random.Generator, max_instruments: int = 3, colours: dict[str, str] | None = None
) -> dict[str, Any]:
    """Random scene graph: a class per cell, then 0..max_instruments instruments in distinct cells.

    Classes may repeat across cells (questions handle that); instrument classes may repeat too. ``colours`` names
    each class's colour word (:func:`anatomy_colours` of the frame's look; the classic look's by default).
    """
    colours = colours or ANATOMY_COLOUR
    cells = rng.integers(0, len(ANATOMY_CLASSES), size=GRID * GRID)
    objects = [_obj(i, "anatomy", ANATOMY_CLASSES[k], i, colours[ANATOMY_CLASSES[k]]) for i, k in enumerate(cells)]
    weights = np.asarray(INSTRUMENT_COUNT_WEIGHTS[: max_instruments + 1], dtype=float)
    n = int(rng.choice(len(weights), p=weights / weights.sum()))
    bands = tuple(BAND_RGB)
    for j, cell in enumerate(sorted(rng.choice(GRID * GRID, size=n, replace=False).tolist())):
        cls = INSTRUMENTS[int(rng.integers(len(INSTRUMENTS)))]
        objects.append(_obj(GRID * GRID + j, "instrument", cls, cell, bands[int(rng.integers(len(bands)))]))
    return {"grid": GRID, "objects": objects, "relations": relations(objects)}


def anatomy_key(scene: dict) -> tuple[str, ...]:
    """The anatomy classes cell by cell: two frames with the same key answer every zero-hop question alike."""
    return tuple(o["class"] for o in scene["objects"] if o["kind"] == "anatomy")


# ---------------------------------------------------------------- rendering


def _cell_edges(size: int) -> list[int]:
    return [round(size * i / GRID) for i in range(GRID + 1)]


def _texture(kind: str, base: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Float (h, w, 3) texture of one anatomy region in 0..255 before noise."""
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    img = np.broadcast_to(base.astype(np.float32), (h, w, 3)).copy()
    if kind == "glossy":  # smooth wall with a specular highlight
        cy, cx = rng.uniform(0.25, 0.75, size=2)
        spot = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 0.09**2))
        img += 50.0 * spot[..., None]
    elif kind == "grainy":  # fibrous plate: fine grain
        img *= 1.0 + 0.08 * rng.standard_normal((h, w, 1)).astype(np.float32)
    elif kind == "striped":  # bowel folds
        theta, phase = rng.uniform(0, math.pi), rng.uniform(0, 2 * math.pi)
        wave = np.sin(2 * math.pi * 3.0 * (xx * math.cos(theta) + yy * math.sin(theta)) + phase)
        img *= (1.0 + 0.18 * wave)[..., None]
    elif kind == "blobby":  # fat lobules with darker, yellower gaps
        field = np.zeros((h, w))
        for cy, cx in rng.uniform(0, 1, size=(7, 2)):
            field = np.maximum(field, np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 0.13**2)))
        lobule, gap = np.array([246, 238, 210.0]), np.array([220, 204, 160.0])
        t = np.clip(field * 1.6, 0, 1)[..., None]
        img = (gap + (lobule - gap) * t).astype(np.float32)
    elif kind == "gradient":  # dark cavity, darker towards one side
        theta = rng.uniform(0, 2 * math.pi)
        ramp = xx * math.cos(theta) + yy * math.sin(theta)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        img *= (1.1 - 0.3 * ramp)[..., None]
    return img


def _draw_instrument(
    draw: ImageDraw.ImageDraw, obj: dict, box: tuple[int, int, int, int], rng: np.random.Generator
) -> None:
    """A small metallic instrument: shaft with a coloured band, class-specific tip at the cell centre."""
    x0, y0, x1, y1 = box
    cx, cy, s = (x0 + x1) / 2, (y0 + y1) / 2, min(x1 - x0, y1 - y0)
    ang = rng.uniform(0, 2 * math.pi)
    ca, sa = math.cos(ang), math.sin(ang)

    def pt(u: float, v: float) -> tuple[float, float]:  # local (u along the shaft, v across) -> pixels
        return cx + s * (u * ca - v * sa), cy + s * (u * sa + v * ca)

    def line(u0, v0, u1, v1, width, colour):
        draw.line([pt(u0, v0), pt(u1, v1)], fill=colour, width=max(1, round(width * s)))

    line(-0.48, 0, 0.0, 0, 0.13, _METAL_DARK)  # shaft
    line(-0.48, 0, 0.0, 0, 0.06, _METAL_LIGHT)
    line(-0.34, 0, -0.2, 0, 0.15, BAND_RGB[obj["colour"]])  # colour band
    tip = obj["class"]
    if tip == "grasper":  # two open jaws
        line(0, 0, 0.3, 0.13, 0.07, _METAL_LIGHT)
        line(0, 0, 0.3, -0.13, 0.07, _METAL_LIGHT)
    elif tip == "hook":  # L-shaped electrode
        line(0, 0, 0.24, 0, 0.06, _METAL_LIGHT)
        line(0.24, 0, 0.24, 0.16, 0.06, _METAL_LIGHT)
    elif tip == "scissors":  # crossed blades
        line(0, 0.07, 0.34, -0.07, 0.05, _METAL_LIGHT)
        line(0, -0.07, 0.34, 0.07, 0.05, _METAL_LIGHT)
    elif tip == "clipper":  # parallel jaws holding a clip
        line(0, 0.08, 0.3, 0.08, 0.06, _METAL_LIGHT)
        line(0, -0.08, 0.3, -0.08, 0.06, _METAL_LIGHT)
        line(0.2, 0, 0.3, 0, 0.1, (210, 200, 160))
    elif tip == "bipolar":  # two thin converging prongs
        line(0, 0.06, 0.32, 0.02, 0.04, _METAL_LIGHT)
        line(0, -0.06, 0.32, -0.02, 0.04, _METAL_LIGHT)
    elif tip == "irrigator":  # thick tube with an open end
        line(0, 0, 0.3, 0, 0.15, _METAL_LIGHT)
        ex, ey = pt(0.3, 0)
        r = max(1.0, 0.05 * s)
        draw.ellipse([ex - r, ey - r, ex + r, ey + r], fill=_METAL_DARK)
    else:
        raise ValueError(f"unknown instrument class {tip!r}")


def _classic_regions(
    scene: dict, img: np.ndarray, edges: list[int], rng: np.random.Generator, noise: float
) -> np.ndarray:
    for obj in scene["objects"]:
        if obj["kind"] != "anatomy":
            continue
        y0, y1 = edges[obj["row"]], edges[obj["row"] + 1]
        x0, x1 = edges[obj["col"]], edges[obj["col"] + 1]
        _, base, kind = ANATOMY_STYLE[obj["class"]]
        img[y0:y1, x0:x1] = _texture(kind, np.array(base), y1 - y0, x1 - x0, rng)
    # low-frequency shading across the frame plus fine sensor noise
    size = img.shape[0]
    coarse = rng.standard_normal((4, 4)).astype(np.float32)
    shade = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR))
    img *= (1.0 + 0.05 * shade)[..., None]
    img += rng.normal(0.0, noise, img.shape).astype(np.float32)
    return img


def _lookalike_regions(
    scene: dict, img: np.ndarray, edges: list[int], rng: np.random.Generator, noise: float, contrast: float
) -> np.ndarray:
    from anatomy_r1_verl.synthetic.appearance import Nuisance, default_looks, frame_nuisance, region

    nuisance = Nuisance(noise=noise)
    looks = default_looks(contrast)
    for obj in scene["objects"]:
        if obj["kind"] != "anatomy":
            continue
        y0, y1 = edges[obj["row"]], edges[obj["row"] + 1]
        x0, x1 = edges[obj["col"]], edges[obj["col"] + 1]
        img[y0:y1, x0:x1] = region(looks[obj["class"]], y1 - y0, x1 - x0, rng, nuisance)
    return frame_nuisance(img, rng, nuisance)


def _lookalike_finish(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    from PIL import ImageFilter

    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 0.8))))


def _lookalike_colours(contrast: float) -> dict[str, str]:
    from anatomy_r1_verl.synthetic.appearance import colour_name, default_looks

    return {cls: colour_name(default_looks(contrast)[cls]) for cls in ANATOMY_CLASSES}


@dataclass(frozen=True)
class Painter:
    """How a look paints a frame: its anatomy regions (with the frame's own nuisances), the colour word of each
    class, and what is done to the whole frame once the instruments are drawn."""

    regions: Callable[..., np.ndarray]  # (scene, float image, cell edges, rng, noise, contrast) -> float image
    colours: Callable[[float], dict[str, str]]  # contrast -> class -> colour word
    finish: Callable[[Image.Image, np.random.Generator], Image.Image] | None = None


LOOKS: dict[str, Painter] = {
    # a colour and texture per class (the shipped models' frames)
    "classic": Painter(
        regions=lambda scene, img, edges, rng, noise, contrast: _classic_regions(scene, img, edges, rng, noise),
        colours=lambda contrast: dict(ANATOMY_COLOUR),
    ),
    # the appearance derived from the anatomical closeness table (synthetic/appearance.py), then a slight blur
    "lookalike": Painter(regions=_lookalike_regions, colours=_lookalike_colours, finish=_lookalike_finish),
}


def check_look(look: str) -> Painter:
    if look not in LOOKS:
        raise ValueError(f"unknown look {look!r}; known: {sorted(LOOKS)}")
    return LOOKS[look]


def anatomy_colours(look: str = "classic", contrast: float = 1.0) -> dict[str, str]:
    """Class -> the colour word its regions are named by, in a look."""
    return check_look(look).colours(contrast)


def render_scene(
    scene: dict,
    image_size: int,
    rng: np.random.Generator,
    noise: float = 6.0,
    look: str = "classic",
    contrast: float = 1.0,
) -> Image.Image:
    """RGB image of a scene graph: the anatomy regions in a ``look`` (:data:`LOOKS`), instruments on top."""
    painter = check_look(look)
    edges = _cell_edges(image_size)
    img = painter.regions(scene, np.empty((image_size, image_size, 3), np.float32), edges, rng, noise, contrast)
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(out)
    for obj in scene["objects"]:
        if obj["kind"] == "instrument":
            box = (edges[obj["col"]], edges[obj["row"]], edges[obj["col"] + 1], edges[obj["row"] + 1])
            _draw_instrument(draw, obj, box, rng)
    return painter.finish(out, rng) if painter.finish else out
