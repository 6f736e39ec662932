"""Ready-made OpenVINO IR from the Hugging Face Hub: no torch, no export.

Several Hub repositories hold IR in optimum-intel's layout (``openvino_model.xml/.bin``,
``config.json``, tokenizer files), which ``qa_demo.model_dir`` loads as it is. ``fetch_ir``
downloads only those files with ``huggingface_hub.snapshot_download`` (progress through its
tqdm bars; ``HF_TOKEN`` and ``HF_HUB_OFFLINE`` as the library reads them; ``HF_ENDPOINT`` or
``endpoint=`` for a mirror), into a hidden directory beside the target that is moved into place
only once the model loads. It writes the ``qa_demo.json`` the app needs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import ModelLoadError, QADemoError, require
from ..model_dir import META_FILE, load_model_dir, write_meta
from ..tokenization import is_japanese_tokenizer
from ..types import Task
from .catalog import hub_dir_name

#: The files of an IR model directory; nothing else of a repository is downloaded.
IR_FILES = (
    "openvino_model.xml",
    "openvino_model.bin",
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
IR_XML = "openvino_model.xml"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def fetch_ir(
    repo_id: str,
    models_root: str | Path,
    revision: str | None = None,
    out: str | Path | None = None,
    endpoint: str | None = None,
    tqdm_class=None,
    log: Callable[[str], None] = lambda m: None,
) -> Path:
    """Download the IR of ``repo_id`` into ``out`` (default ``models_root/owner--name``)."""
    # huggingface_hub comes with gradio: serving needs nothing more.
    hub = require("huggingface_hub", "serve")
    out = Path(out) if out else Path(models_root) / hub_dir_name(repo_id)
    if out.exists():
        raise ModelLoadError(f"{out} exists already; remove it to fetch {repo_id} again.")
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    sha = _resolve(hub, repo_id, revision, endpoint)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.fetch-", dir=out.parent))
    try:
        log(f"Downloading the IR of {repo_id} ...")
        _download(hub, repo_id, sha or revision, staging, endpoint, tqdm_class)
        shutil.rmtree(staging / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping
        _write_meta(staging, repo_id, sha or revision or "main")
        load_model_dir(staging)  # it loads, or nothing is moved into place
        os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"{repo_id} is ready in {out}")
    return out


def _resolve(hub, repo_id: str, revision: str | None, endpoint: str | None) -> str | None:
    """The commit of ``revision``, after checking the repository holds an IR; None offline."""
    if _offline():
        return None
    try:
        info = hub.HfApi(endpoint=endpoint).model_info(repo_id, revision=revision)
    except hub.errors.RepositoryNotFoundError:
        raise ModelLoadError(
            f"{repo_id} is not a repository on the Hub (or it is private: set HF_TOKEN)."
        ) from None
    except hub.errors.RevisionNotFoundError:
        raise ModelLoadError(f"{repo_id} has no revision {revision!r}.") from None
    except (hub.errors.HfHubHTTPError, OSError) as exc:
        raise ModelLoadError(_no_network(repo_id, exc)) from None
    files = {s.rfilename for s in info.siblings or ()}
    if IR_XML not in files:
        raise ModelLoadError(
            f"{repo_id} holds no OpenVINO IR ({IR_XML}); export it instead: "
            f"qa-demo export {repo_id} models/{hub_dir_name(repo_id)} --task qa"
        )
    return info.sha


def _download(hub, repo_id, revision, staging: Path, endpoint, tqdm_class) -> None:
    try:
        hub.snapshot_download(
            repo_id,
            revision=revision,
            local_dir=staging,
            allow_patterns=list(IR_FILES),
            endpoint=endpoint,
            local_files_only=_offline(),
            tqdm_class=tqdm_class,
        )
    except hub.errors.LocalEntryNotFoundError:
        raise ModelLoadError(
            f"HF_HUB_OFFLINE is set and {repo_id} is not in the local cache: unset it, or copy "
            f"the model directory into models/ by hand."
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise ModelLoadError(
                f"The disk filled up while downloading {repo_id}; nothing was kept. Free some "
                "space and try again."
            ) from None
        raise ModelLoadError(_interrupted(repo_id, exc)) from None
    except QADemoError:
        raise
    except Exception as exc:  # anything else huggingface_hub raises mid-download
        raise ModelLoadError(_interrupted(repo_id, exc)) from None


def _interrupted(repo_id: str, exc: Exception) -> str:
    return (
        f"The download of {repo_id} broke off ({type(exc).__name__}): the network or the Hub "
        "went away; nothing was kept. Try again."
    )


def _no_network(repo_id: str, exc: Exception) -> str:
    return f"Cannot reach the Hugging Face Hub for {repo_id} ({type(exc).__name__}): no network?"


def _write_meta(staging: Path, repo_id: str, revision: str) -> None:
    """The task (config.json's architectures), language (the tokenizer) and source."""
    config = json.loads((staging / "config.json").read_text(encoding="utf-8"))
    archs = " ".join(config.get("architectures") or [])
    if "QuestionAnswering" in archs:
        task = Task.QA
    elif "TokenClassification" in archs:
        task = Task.NER
    else:
        raise ModelLoadError(f"{repo_id} is neither a QA nor a NER model ({archs or 'no arch'}).")
    tok_config = staging / "tokenizer_config.json"
    tok = json.loads(tok_config.read_text(encoding="utf-8")) if tok_config.exists() else {}
    existing = staging / META_FILE
    if existing.exists():
        existing.unlink()
    write_meta(
        staging,
        task=task.value,
        language="ja" if is_japanese_tokenizer(tok) else "en",
        description=f"OpenVINO IR from the Hub: {repo_id}",
        source=f"hf://{repo_id}",
        revision=revision,
    )


def cmd_fetch(args) -> None:
    from .paths import models_root

    root = models_root(args.models)
    out = fetch_ir(args.repo_id, root, args.revision, args.out, log=print)
    print(out)


def add_subcommands(sub) -> None:
    p = sub.add_parser(
        "fetch", help="download ready-made OpenVINO IR from the Hugging Face Hub (no torch)"
    )
    p.add_argument("repo_id", help="a Hub repository holding openvino_model.xml/.bin")
    p.add_argument("--revision", help="branch, tag or commit (default: main)")
    p.add_argument("--out", help="model directory to write (default: MODELS/owner--name)")
    p.add_argument("--models", help="models directory (default: $QA_DEMO_MODELS or models/)")
    p.set_defaults(func=cmd_fetch)
