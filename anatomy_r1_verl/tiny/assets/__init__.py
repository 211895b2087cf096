"""The shipped tiny models (this folder's subfolders); their paths and the ``${ar1_asset:NAME}`` resolver are
:mod:`anatomy_r1_verl.config.assets`."""

from anatomy_r1_verl.config.assets import ASSETS_DIR, DEFAULT_MODEL, asset_path, register

__all__ = ["ASSETS_DIR", "DEFAULT_MODEL", "asset_path", "register"]
