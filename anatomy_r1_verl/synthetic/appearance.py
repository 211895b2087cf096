"""Look-alike anatomy: each class's appearance as a function of the anatomical closeness table.

In a real frame the hard questions are those whose distractors look like the answer: the gallbladder lies on the
cystic plate and both are pale, smooth tissue; the abdominal wall looks like nothing else. The ``lookalike``
appearance gives the synthetic benchmark that property by construction, from the same table ASCL's S(q) reads
(``ascl/anatomy_similarity.yaml``), so that anatomical similarity *is* what makes a question hard:

1. The anatomical distance of two classes is ``1 - closeness``. Classical multidimensional scaling (Torgerson:
   double-centre the squared distances, keep the positive eigen-directions) places every class of the table at a
   point whose Euclidean distances to the others approximate those distances (:func:`cue_coordinates`).
2. Each of the first :data:`CUES` axes drives one visual cue, with a gain per unit of distance
   (:data:`CUE_GAIN`): hue, brightness, texture kind (fibrous stripes .. fat lobules), texture scale and the
   darkness of the region's border. The gains are scaled by ``contrast`` (1.0 by default).
3. So the visual difference of two classes falls as their closeness rises: Gallbladder and Cystic Plate (0.9)
   differ by a fine cue, Abdominal Wall Cavity and Cystic Plate (0.1) in every cue. A class added to the table
   gets its place in the look with no palette to edit.

A frame also gets nuisances (:class:`Nuisance`): a global lighting gain, a per-channel colour cast, per-region
jitter of hue and brightness, a low-frequency shading field, pixel noise and a slight blur, so no single pixel
value names a class and the closest pairs are confusable on some frames, as in the paper's data.

The colour word of a class (the scene graph's ``colour``, used by attribute questions) is the name of its mean
hue and brightness (:func:`colour_name`): two look-alike classes often share it, and a question then has to
anchor on the position as well.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from anatomy_r1_verl.ascl.difficulty import DEFAULT_TABLE, ClosenessTable

# the cues, in the order the scaling's axes (largest spread first) drive them
CUES = ("hue", "value", "blend", "freq", "border")
# change of each cue per unit of anatomical distance along its axis (at contrast 1.0); hue at 150 made the hue
# families dominate every other cue (docs/benchmarks.md, "The look-alike benchmark")
CUE_GAIN = {"hue": 60.0, "value": 0.55, "blend": 1.4, "freq": 4.0, "border": 1.2}
# the cues' centres: a reddish-brown, half-lit tissue, half stripes, 3 cycles per region, a faint border
CUE_CENTRE = {"hue": 15.0, "value": 0.62, "blend": 0.5, "freq": 3.0, "border": 0.35}
SATURATION = 0.55


@dataclass(frozen=True)
class Look:
    """One class's appearance: hue (degrees), value (brightness 0..1), blend (0 stripes .. 1 lobules), freq
    (texture cycles per region), border (darkness of the region's edge, 0..1)."""

    hue: float
    value: float
    blend: float
    freq: float
    border: float

    def rgb(self) -> np.ndarray:
        r, g, b = colorsys.hsv_to_rgb((self.hue % 360.0) / 360.0, SATURATION, self.value)
        return np.array([r, g, b], np.float32) * 255.0


@dataclass(frozen=True)
class Nuisance:
    """Per-frame and per-region variation that is not the class: lighting gain range, colour cast (std of the
    per-channel gain), region hue (degrees) and brightness jitter (std), shading amplitude, pixel noise (std in
    0..255) and the blur radius range (px)."""

    lighting: tuple[float, float] = (0.8, 1.2)
    cast: float = 0.05
    hue_jitter: float = 6.0
    value_jitter: float = 0.05
    shading: float = 0.08
    noise: float = 6.0
    blur: tuple[float, float] = (0.3, 0.8)


def cue_coordinates(matrix: np.ndarray, dims: int = len(CUES)) -> np.ndarray:
    """Classical MDS of the distances ``1 - matrix``: (n classes, dims) coordinates, axes by falling spread.

    Each axis's sign is fixed so that its largest coordinate is positive (the same table gives the same look).
    Axes beyond the table's positive spectrum are zero.
    """
    d2 = (1.0 - np.asarray(matrix, float)) ** 2
    n = d2.shape[0]
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ d2 @ j
    vals, vecs = np.linalg.eigh((b + b.T) / 2)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    coords = np.zeros((n, dims))
    for k in range(min(dims, n)):
        if vals[k] <= 1e-9:
            break
        axis = vecs[:, k] * math.sqrt(vals[k])
        coords[:, k] = axis if axis[np.argmax(np.abs(axis))] > 0 else -axis
    return coords


def looks(table: ClosenessTable, contrast: float = 1.0) -> dict[str, Look]:
    """Every class of ``table`` -> its :class:`Look`, the cue centres moved by ``contrast`` x gain x coordinate."""
    coords = cue_coordinates(table.matrix)
    out = {}
    for i, name in enumerate(table.classes):
        cue = {c: CUE_CENTRE[c] + contrast * CUE_GAIN[c] * coords[i, k] for k, c in enumerate(CUES)}
        out[name] = Look(
            hue=cue["hue"],
            value=float(np.clip(cue["value"], 0.15, 0.95)),
            blend=float(np.clip(cue["blend"], 0.0, 1.0)),
            freq=float(np.clip(cue["freq"], 1.0, 6.0)),
            border=float(np.clip(cue["border"], 0.0, 1.0)),
        )
    return out


@lru_cache(maxsize=8)
def default_looks(contrast: float = 1.0) -> dict[str, Look]:
    """The looks of the shipped closeness table."""
    return looks(ClosenessTable(DEFAULT_TABLE), contrast)


def colour_name(look: Look) -> str:
    """The colour word of a look's base colour (one of :data:`anatomy_r1_verl.synthetic.scene.REGION_COLOURS`)."""
    if look.value > 0.85:
        return "white"
    if look.value < 0.3:
        return "grey"
    hue = look.hue % 360.0
    for upper, word in ((15, "red"), (40, "brown" if look.value < 0.6 else "yellow"), (70, "yellow")):
        if hue < upper:
            return word
    for upper, word in ((170, "green"), (260, "blue"), (300, "purple"), (345, "pink")):
        if hue < upper:
            return word
    return "red"


def region(look: Look, h: int, w: int, rng: np.random.Generator, nuisance: Nuisance) -> np.ndarray:
    """Float (h, w, 3) pixels of one region of a class, in 0..255, before the frame's shared nuisances."""
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    jittered = Look(
        hue=look.hue + rng.normal(0.0, nuisance.hue_jitter),
        value=float(np.clip(look.value * (1.0 + rng.normal(0.0, nuisance.value_jitter)), 0.05, 1.0)),
        blend=look.blend,
        freq=look.freq,
        border=look.border,
    )
    theta, phase = rng.uniform(0, math.pi), rng.uniform(0, 2 * math.pi)
    stripes = np.sin(2 * math.pi * look.freq * (xx * math.cos(theta) + yy * math.sin(theta)) + phase)
    lobules = np.zeros((h, w))
    n_lobules = max(2, round(look.freq**2))
    radius = 0.5 / look.freq
    for cy, cx in rng.uniform(0, 1, size=(n_lobules, 2)):
        lobules = np.maximum(lobules, np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2)))
    texture = (1.0 - look.blend) * stripes + look.blend * (2.0 * lobules - 1.0)
    img = jittered.rgb()[None, None, :] * (1.0 + 0.18 * texture)[..., None]
    edge = np.minimum.reduce([yy, 1 - yy, xx, 1 - xx]) * min(h, w)
    img *= (1.0 - look.border * 0.6 * np.exp(-edge / 1.5))[..., None]
    return img.astype(np.float32)


def frame_nuisance(img: np.ndarray, rng: np.random.Generator, nuisance: Nuisance) -> np.ndarray:
    """The frame-wide nuisances on float pixels: lighting, colour cast, shading field and noise."""
    from PIL import Image

    size = img.shape[0]
    gain = rng.uniform(*nuisance.lighting) * (1.0 + rng.normal(0.0, nuisance.cast, size=3)).astype(np.float32)
    coarse = rng.standard_normal((4, 4)).astype(np.float32)
    shade = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR))
    img = img * gain[None, None, :] * (1.0 + nuisance.shading * shade)[..., None]
    return img + rng.normal(0.0, nuisance.noise, img.shape).astype(np.float32)
