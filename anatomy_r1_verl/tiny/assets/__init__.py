"""Files shipped inside the package (the warm-started tiny model), and the config resolver for them.

``${ar1_asset:NAME}`` in a config resolves to the absolute path of ``anatomy_r1_verl/tiny/assets/NAME`` (this
folder), so a recipe can name the shipped checkpoint wherever the package is installed.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

ASSETS_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "tiny-qwen25vl-warm"


def asset_path(name: str) -> str:
    path = ASSETS_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"no asset {name!r} in {ASSETS_DIR}")
    return str(path)


def register() -> list[str]:
    """The ``${ar1_asset:NAME}`` resolver (OmegaConf's public ``register_new_resolver``)."""
    if not OmegaConf.has_resolver("ar1_asset"):
        OmegaConf.register_new_resolver("ar1_asset", asset_path)
    return ["OmegaConf resolver ${ar1_asset:NAME} -> " + str(ASSETS_DIR)]


register()
