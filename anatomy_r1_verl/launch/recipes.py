"""The recipes: YAML deltas over the package's base config, shipped in ``recipes/`` (``anatomy-r1 train --list``)
or given by path; a name is resolved to its file here, composed by :mod:`.compose`."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# The demo's two benchmarks, each a recipe that names its start model and how its questions are made: the look-alike
# frames, where anatomical closeness makes a question hard (the default of `anatomy-r1 demo` and `anatomy-r1
# bench`), and the classic frames, where each class has its own colour (`--classic`)
DEMO_RECIPES = {"lookalike": "demo_cpu", "classic": "demo_cpu_classic"}


class RecipeError(ValueError):
    """A recipe or override that cannot run; the message names the config key and what to do."""


def recipes_dir() -> Path:
    """The shipped recipes: ``anatomy_r1_verl/recipes`` of an installed package, else the checkout's ``recipes/``
    (an editable install)."""
    for cand in (PACKAGE_DIR / "recipes", PACKAGE_DIR.parent / "recipes"):
        if cand.is_dir():
            return cand
    raise RecipeError(f"no recipes folder next to {PACKAGE_DIR}: reinstall the package (pip install .)")


def list_recipes() -> list[tuple[str, str]]:
    """``(name, first comment line)`` of every shipped recipe."""
    out = []
    for path in sorted(recipes_dir().glob("*.yaml")):
        first = next((ln.lstrip("# ").strip() for ln in path.read_text().splitlines() if ln.startswith("#")), "")
        out.append((path.stem, first))
    return out


def resolve_recipe(recipe: str) -> Path:
    """A recipe path, or the bare name of a shipped recipe (``anatomy-r1 train --list``)."""
    p = Path(recipe)
    shipped = recipes_dir()
    for cand in (p, p.with_suffix(".yaml"), shipped / p.name, shipped / f"{p.name}.yaml"):
        if cand.is_file():
            return cand.resolve()
    raise RecipeError(
        f"recipe {recipe!r} not found (looked in . and {shipped}); pass the path of a recipe YAML "
        "or one of `anatomy-r1 train --list`"
    )
