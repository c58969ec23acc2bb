"""README's recipe reference is what scripts/recipe_reference.py prints from the config schema (not a stale copy)."""

import importlib.util

from conftest import REPO


def test_readme_recipe_reference_is_current():
    spec = importlib.util.spec_from_file_location("recipe_reference", REPO / "scripts" / "recipe_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.reference()
    assert "| `sources[].video` |" in text and "| `fps` |" in text and "| `motion.method` |" in text
    readme = (REPO / "README.md").read_text()
    copy = readme.split(module.START, 1)[1].split(module.END, 1)[0].strip("\n")
    assert copy == text.strip("\n"), "README.md's recipe reference is stale: run python scripts/recipe_reference.py --write"
