"""``--candidate name=JSON`` for the recipe benchmarks: one more GAN recipe to try by name."""

from __future__ import annotations

import json


def parse_candidates(items) -> dict[str, dict]:
    """Each ``name=<JSON recipe>`` of ``items`` as ``{name: recipe}``; exits naming a bad one."""
    recipes = {}
    for item in items:
        name, _, text = item.partition("=")
        try:
            recipe = json.loads(text)
        except json.JSONDecodeError as error:
            raise SystemExit(f"--candidate {item!r}: not name=<JSON recipe> ({error})") from error
        if not name or not isinstance(recipe, dict):
            raise SystemExit(f"--candidate {item!r}: give a name and a JSON object, e.g. "
                             "kit2='{\"batch_size\": 8}'")
        recipes[name] = recipe
    return recipes
