"""The package's layers (README, "Layout"): each folder imports only the folders above it."""

from __future__ import annotations

import ast
from pathlib import Path

import imdb_lightning

PACKAGE = Path(imdb_lightning.__file__).parent
#: From the bottom up; the top level (the commands and the notebook API) may import any.
LAYERS = ("utils", "network", "data", "config", "running", "results")


def layer_of(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else len(LAYERS)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("imdb_lightning"):
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("imdb_lightning")}
    return found


def test_every_folder_imports_only_the_folders_above_it():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(("imdb_lightning", *path.relative_to(PACKAGE).with_suffix("").parts))
        for imported in imports_of(path):
            if layer_of(imported) > layer_of(module):
                wrong.append(f"{module} imports {imported}")
    assert not wrong, wrong


def test_the_layers_are_the_packages_folders():
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders == set(LAYERS)


def test_the_settings_rules_load_without_pytorch_and_every_public_name_of_data_resolves():
    import subprocess
    import sys

    code = (
        "import sys; import imdb_lightning.config.rules; "
        "print(sorted({'torch', 'lightning'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"  # what the command line checks before PyTorch loads

    import imdb_lightning.data as data

    assert all(getattr(data, name) is not None for name in data.__all__)
