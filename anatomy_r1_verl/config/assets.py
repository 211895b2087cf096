"""The config resolver for the files shipped inside the package (the warm-started tiny models).

``${ar1_asset:NAME}`` in a config resolves to the absolute path of ``anatomy_r1_verl/tiny/assets/NAME``, so a
recipe can name a shipped checkpoint wherever the package is installed. The plugin registers it in every process
(it lives here, with the config, because the plugin sits below the tiny-model tools).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

ASSETS_DIR = Path(__file__).resolve().parents[1] / "tiny" / "assets"
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
