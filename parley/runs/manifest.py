"""A run's manifest.json: what a run was made of (world, persona and template files with their hashes,
seed, variants, backend, versions) and what identifies it for reuse."""

from __future__ import annotations

import hashlib
import json
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from parley.world.problems import display_path
from parley.world.scenario import Scenario, VariantFile, load_variant_file

PACKAGES = ("parley", "mesa", "numpy", "networkx", "pydantic", "jinja2")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def manifest_for(run_id: str, scenario: Scenario, seed: int, backend: str, max_rounds: int) -> dict:
    hashes = scenario.file_hashes()
    persona_files = {display_path(p) for p in scenario.persona_paths.values()}
    return {
        "run_id": run_id,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "world": {
            "id": scenario.world.id,
            "file": str(scenario.world_path.resolve()),
            "path": display_path(scenario.world_path),
            "sha256": hashes[display_path(scenario.world_path)],
        },
        "personas": {
            a: {"path": display_path(p), "sha256": hashes[display_path(p)], "variant": scenario.variants.get(a, "base")}
            for a, p in scenario.persona_paths.items()
        },
        "templates": {
            k: v for k, v in hashes.items() if k not in persona_files and k != display_path(scenario.world_path)
        },
        "seed": seed,
        "variants": dict(scenario.variants),
        "backend": backend,
        "max_rounds": max_rounds,
        "versions": versions(),
    }


def variant_files_of(folder: Path | str, manifest: dict[str, Any]) -> dict[str, VariantFile]:
    """The variant files a saved run played (the copies kept in its folder), for replaying it."""
    out = {}
    for actor, info in (manifest.get("variant_files") or {}).items():
        out[actor] = load_variant_file(Path(folder) / info["file"], shown_as=info.get("source"))
    return out


# -- what identifies a run -----------------------------------------------------------------------
def run_key(manifest: dict[str, Any]) -> str:
    """A hash of what decides a run: the content of the world, persona, template and variant files,
    the variants, the seed, the round limit and the backend (with its models and sampling)."""
    templates = sorted(("/".join(Path(k).parts[-2:]), v) for k, v in (manifest.get("templates") or {}).items())
    llm = manifest.get("llm") or {}
    basis = {
        "world": manifest["world"]["sha256"],
        "personas": {a: [p.get("sha256"), p.get("variant", "base")] for a, p in manifest["personas"].items()},
        "templates": templates,
        "variant_files": {a: f.get("sha256") for a, f in (manifest.get("variant_files") or {}).items()},
        "variants": manifest.get("variants") or {},
        "seed": manifest["seed"],
        "max_rounds": manifest["max_rounds"],
        "backend": manifest["backend"],
        "llm": {k: llm.get(k) for k in ("models", "temperature", "max_tokens", "memory_window", "max_reasks")}
        if manifest["backend"] == "openai"
        else None,
        "injects": manifest.get("injects"),
        "parent": manifest.get("parent"),
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode("utf-8")).hexdigest()
