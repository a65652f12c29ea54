"""Where datasets live: the bundled demo, GRADELENS_DATA, and folders under data/."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from gradelens.dataset import is_dataset

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / "data"
DEMO_DIR = DATA_DIR / "demo"
DATA_ENV = "GRADELENS_DATA"


def configured_data_dir() -> Path:
    """GRADELENS_DATA when set, else the bundled demo dataset."""
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value).expanduser().resolve() if value else DEMO_DIR


def ensure_demo_dataset(progress: Callable[[float, str], None] | None = None) -> Path:
    """Create data/demo with the default demo company when it is not there yet."""
    if not is_dataset(DEMO_DIR):
        from gradelens.demo import generate

        generate(DEMO_DIR, progress=progress)
    return DEMO_DIR


def available_datasets() -> dict[str, Path]:
    """Datasets a viewer may pick: the configured one and each dataset folder under data/.

    Keyed by a short name that is safe in a URL; a URL can only choose among these, never
    name an arbitrary path.
    """
    choices: dict[str, Path] = {}
    configured = configured_data_dir()
    choices[configured.name] = configured
    if DATA_DIR.is_dir():
        for folder in sorted(DATA_DIR.iterdir()):
            if folder.name not in choices and is_dataset(folder):
                choices[folder.name] = folder
    return choices
