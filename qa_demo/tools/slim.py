"""``qa-demo slim``: a copy of a model directory with only some of its IRs, for a size budget.

`models/` holds 150 MB; a trained directory has FP32 and two INT8 IRs. Shipping fewer was a
hand edit of qa_demo.json until now: this copies the kept IRs, the tokenizer and config files
and the metadata with every entry about a dropped IR removed, and swaps the copy into place
whole (``atomic.swap_dirs``), so the card's "files" line is one command.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from ..errors import InputError
from ..model_dir import INT8_FILES, META_FILE, PRECISION_FILES, load_model_dir
from .atomic import swap_dirs

#: The files a model directory needs besides its IRs (those present are copied).
MODEL_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "README.md",
)
#: What each precision key of qa_demo.json ships as.
IR_OF = {
    "FP32": PRECISION_FILES["FP32"],
    **{f"INT8-{route.value}": name for route, name in INT8_FILES.items()},
}
#: Keys that only make sense with the FP32 IR beside the INT8 one (its hint routes).
FP32_ROUTES = ("BF16", "FP16")


def slim_meta(meta: dict, keep: list[str]) -> dict:
    """qa_demo.json with only the entries of the kept precisions."""
    out = dict(meta)
    out["precisions"] = [p for p in meta.get("precisions", []) if p in keep]
    routes = [p.partition("-")[2] for p in keep if p.startswith("INT8-")]
    out["int8_routes"] = [r for r in meta.get("int8_routes", []) if r in routes]
    dropped = set(IR_OF) - set(keep) | (set() if "FP32" in keep else set(FP32_ROUTES))
    for key in ("parity_max_abs_diff", "agreement"):
        if key in meta:
            out[key] = {k: v for k, v in meta[key].items() if k not in dropped}
    return out


def slim(src: Path, out: Path, keep: list[str], description: str | None = None) -> list[str]:
    """Write ``out`` with the IRs of ``keep`` (e.g. ["INT8-weights"]); returns its files.
    ``description`` replaces the one the app shows (a shipped model states its scores)."""
    load_model_dir(src)  # refuses a broken source with its own message
    meta = json.loads((src / META_FILE).read_text(encoding="utf-8"))
    unknown = [p for p in keep if p not in IR_OF or p not in meta.get("precisions", [])]
    if unknown or not keep:
        have = ", ".join(meta.get("precisions", [])) or "none"
        raise InputError(f"{src} cannot keep {unknown or 'nothing'}; it has: {have}.")
    if out.exists() and out.resolve() == src.resolve():
        raise InputError("--out must differ from the source directory.")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name in MODEL_FILES:
            if (src / name).exists():
                shutil.copy2(src / name, work / name)
        for precision in keep:
            xml = src / IR_OF[precision]
            for path in (xml, xml.with_suffix(".bin")):
                shutil.copy2(path, work / path.name)
        meta = slim_meta(meta, keep)
        if description:
            meta["description"] = description
        text = json.dumps(meta, ensure_ascii=False, indent=2) + "\n"
        (work / META_FILE).write_text(text, encoding="utf-8")
        load_model_dir(work)  # the copy must load before it replaces anything
        work.chmod(0o755)  # mkdtemp's 0700 would hide the models from other users
        swap_dirs(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return sorted(p.name for p in out.iterdir())


def cmd_slim(args) -> None:
    files = slim(Path(args.model), Path(args.out), args.keep, args.description)
    print(f"Wrote {args.out}: {', '.join(files)}")


def add_subcommands(sub) -> None:
    p = sub.add_parser(
        "slim",
        help="copy a model directory with only some of its IRs (a size budget), "
        "its qa_demo.json entries to match",
    )
    p.add_argument("model", help="the model directory to copy from")
    p.add_argument("--out", required=True, help="the directory to write (swapped in whole)")
    p.add_argument(
        "--keep",
        nargs="+",
        required=True,
        choices=sorted(IR_OF),
        help="the precisions whose IR is kept",
    )
    p.add_argument("--description", help="replace the description the app shows")
    p.set_defaults(func=cmd_slim)
