"""The layers import only downwards (models, then the synthetic data, evaluation, components,
pipeline, and the command line on top), no module imports itself through others, and every layer
selects Keras 2 without importing the command line's package."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT

# Bottom to top: a module may import its own layer and the ones before it.
LAYERS = ("models", "synthetic", "evaluation", "components", "pipeline", "sparsectr")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for layer in LAYERS for path in sorted((PROJECT_ROOT / layer).rglob("*.py"))}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                     for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in LAYERS)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) & set(modules) for name, path in modules.items()}


def test_imports_only_point_down():
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = sorted(f"{module} imports {target}" for module, targets in _graph().items() for target in targets
                    if rank[target.split(".")[0]] > rank[module.split(".")[0]])
    assert not upward, "imports pointing up the layers " + " < ".join(LAYERS) + ":\n" + "\n".join(upward)


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


# The layers that load TensorFlow (the synthetic data does not).
@pytest.mark.parametrize("layer", ["models", "evaluation", "components", "pipeline"])
def test_every_layer_selects_legacy_keras_without_the_command_line(layer):
    script = (f"import os, sys; import {layer}; "
              "print(os.environ.get('TF_USE_LEGACY_KERAS'), 'sparsectr' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "False"]


def test_the_install_and_the_component_image_hold_every_layer():
    """setup.py packages each layer, kubeflow/Dockerfile copies it and .dockerignore lets it into the
    build context (the image runs the components, which import the layers below them)."""
    setup = (PROJECT_ROOT / "setup.py").read_text()
    dockerfile = (PROJECT_ROOT / "kubeflow" / "Dockerfile").read_text().splitlines()
    allowed = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    missing = [layer for layer in LAYERS if f'"{layer}*"' not in setup
               or f"COPY {layer} /app/{layer}" not in dockerfile or f"!{layer}" not in allowed]
    assert not missing, f"packages missing from setup.py, kubeflow/Dockerfile or .dockerignore: {missing}"
