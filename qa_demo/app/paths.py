"""Where the app finds its folders and settings: models/, assets/ and the environment."""

from __future__ import annotations

import os
from pathlib import Path


def project_dir(name: str) -> Path:
    """The project's ``name`` folder (models, assets): the working directory's, else the
    source checkout's. Not the package's own parent: installed without ``-e``, that is
    site-packages."""
    checkout = Path(__file__).resolve().parents[2]
    for base in (Path.cwd(), checkout):
        if (base / name).is_dir() and (base / "app.py").exists():
            return base / name
    return Path.cwd() / name


#: models/ and assets/ of the project; QA_DEMO_MODELS overrides the models folder.
DEFAULT_MODELS = project_dir("models")
DEFAULT_ASSETS = project_dir("assets")
MODELS_ENV = "QA_DEMO_MODELS"
REMOTE_ENV = "QA_DEMO_REMOTE"
#: A Hub repository with OpenVINO IR to fetch at start-up and make the default (a Space).
PRELOAD_ENV = "QA_DEMO_PRELOAD"


def models_root(given: str | Path | None = None) -> Path:
    """The models folder: as given, else $QA_DEMO_MODELS, else the project's models/."""
    return Path(given or os.environ.get(MODELS_ENV) or DEFAULT_MODELS)
