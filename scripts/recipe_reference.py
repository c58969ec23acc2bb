"""Print the recipe reference (Markdown) from the config schema: `Recipe.model_json_schema()` gives every key, type,
default and bound; each section's docstring and each field's `description` (or, where there is none, the comment on
its line in the model's source) give the meaning.

    python scripts/recipe_reference.py            # print it
    python scripts/recipe_reference.py --write    # replace README.md's copy (between the recipe-reference markers)

`tests/test_recipe_reference.py` fails when README.md's copy is not what this prints.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import typing
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

START, END = "<!-- recipe-reference:start -->", "<!-- recipe-reference:end -->"


def reachable_models(root) -> dict[str, type]:
    """Every pydantic model reachable from `root` through field annotations, by class name (the schema's $defs)."""
    from pydantic import BaseModel

    found: dict[str, type] = {}

    def visit(tp) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp.__name__ in found:
                return
            found[tp.__name__] = tp
            for f in tp.model_fields.values():
                visit(f.annotation)
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root)
    return found


def field_comments(cls: type) -> dict[str, str]:
    """field name -> the comment on its line (and comment lines just above it) in the class body."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    out, pending = {}, []
    for line in lines[1:]:
        body = line.strip()
        indent = len(line) - len(line.lstrip())
        if body.startswith("#") and indent == 4:
            pending.append(body.lstrip("# "))
            continue
        m = re.match(r"^    (\w+)\s*:[^#]*?(?:#\s*(.*))?$", line)
        if m and indent == 4 and not body.startswith(("def ", "class ", "@", "return", "model_config")):
            out[m.group(1)] = " ".join(pending + ([m.group(2)] if m.group(2) else [])).strip()
        if indent <= 4 and body:
            pending = []
    return out


def type_text(node: dict, defs: dict) -> str:
    if "$ref" in node:
        return f"`{node['$ref'].split('/')[-1]}`"
    if "anyOf" in node:
        return " \\| ".join(type_text(n, defs) for n in node["anyOf"])
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    t = node.get("type")
    if t == "array":
        if "prefixItems" in node:
            return "[" + ", ".join(type_text(n, defs) for n in node["prefixItems"]) + "]"
        return f"list of {type_text(node.get('items', {}), defs)}"
    if t == "object":
        value = node.get("additionalProperties")
        return f"map to {type_text(value, defs)}" if isinstance(value, dict) else "mapping"
    bounds = [f"{sym} {node[k]}" for k, sym in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                                                  ("exclusiveMaximum", "<")) if k in node]
    return (t or "any") + (f" ({', '.join(bounds)})" if bounds else "")


def default_text(node: dict, required: bool) -> str:
    if "default" in node:
        return f"`{json.dumps(node['default'])}`"
    if required:
        return "**required**"
    if "$ref" in node:
        return "its section's defaults"
    return {"object": "`{}`", "array": "`[]`"}.get(node.get("type"), "")


def reference() -> str:
    from vla_builder.recipe import Recipe

    schema = Recipe.model_json_schema()
    defs = schema.get("$defs", {})
    models = reachable_models(Recipe)
    sections: list[tuple[str, str, dict, str]] = [("", "Recipe", schema, "Recipe")]
    out = []
    seen = set()
    while sections:
        prefix, title, node, name = sections.pop(0)
        if name in seen and prefix:
            continue
        seen.add(name)
        comments = field_comments(models[name]) if name in models else {}
        doc = " ".join((node.get("description") or "").split())
        out += [f"**{prefix.rstrip('.') or 'top level'}** — {doc}" if doc else f"**{prefix.rstrip('.') or 'top level'}**",
                "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for key, prop in node.get("properties", {}).items():
            meaning = " ".join((prop.get("description") or comments.get(key, "")).split()).replace("|", "\\|")
            required = key in node.get("required", [])
            out.append(f"| `{prefix}{key}` | {type_text(prop, defs)} | {default_text(prop, required)} | {meaning} |")
            refs = [prop] + prop.get("anyOf", []) + ([prop["items"]] if "items" in prop else [])
            for r in refs:
                target = r.get("$ref") or (r.get("items") or {}).get("$ref")
                if target:
                    ref_name = target.split("/")[-1]
                    is_list = r.get("type") == "array" or "items" in prop
                    sections.append((f"{prefix}{key}{'[]' if is_list else ''}.", ref_name, defs[ref_name], ref_name))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--write", action="store_true", help="replace the copy in README.md")
    args = p.parse_args()
    text = reference()
    if not args.write:
        print(text, end="")
        return 0
    readme = REPO / "README.md"
    s = readme.read_text()
    if START not in s or END not in s:
        print(f"error: {readme} has no {START} ... {END} markers", file=sys.stderr)
        return 1
    head, rest = s.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{text}{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
