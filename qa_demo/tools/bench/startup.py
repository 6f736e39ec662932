"""Start-up and memory (``--startup``): compile times, app start to ready, peak RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ...errors import DataError
from ...model_dir import PRECISION_FILES
from ...runtime import Engine
from ...types import Task
from .config import BenchConfig
from .weights import BenchSetup, build_checkpoint

_READY_BARE = """
import gradio as gr
with gr.Blocks() as demo:
    gr.Textbox()
demo.launch(prevent_thread_lock=True)
print("READY", flush=True)
demo.close()
"""

_READY_APP = """
from qa_demo.app.serve import build_app
demo = build_app({args})
demo.launch(prevent_thread_lock=True)
print("READY", flush=True)
demo.close()
"""

#: Peak RSS from VmHWM, which starts afresh at exec; ru_maxrss would inherit the bench
#: process's own peak through fork.
_MEMORY = """
import sys
from pathlib import Path
from qa_demo import EntityTagger, QuestionAnswerer
text = Path(sys.argv[3]).read_text(encoding="utf-8")
qa = QuestionAnswerer.load(sys.argv[1], parallel_windows=sys.argv[4] == "1")
ner = EntityTagger.load(sys.argv[2])
qa.ask("Who designed the pier?", text[:900])
qa.ask("Who designed the pier?", text)
ner.tag(text[:2000])
status = Path("/proc/self/status").read_text().splitlines()
print(int(next(ln for ln in status if ln.startswith("VmHWM")).split()[1]) / 1024)
"""


def _time_until_ready(code: str, env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in proc.stdout:
        if line.startswith("READY"):
            elapsed = time.perf_counter() - t0
            proc.wait(timeout=60)
            return elapsed
    err = proc.stderr.read()
    raise DataError(f"The start-up probe failed: {err.strip().splitlines()[-1:]}")


def measure_startup(cfg: BenchConfig, prep: BenchSetup, log) -> dict:
    """Compile times (first, cached), app start vs a bare Blocks app, and peak RSS."""
    out: dict = {}
    xml = prep.model_dir / PRECISION_FILES["FP32"]
    with tempfile.TemporaryDirectory() as cache:
        first = Engine(cache_dir=cache).compile(xml)
        cached = Engine(cache_dir=cache).compile(xml)
        out["compile_first_ms"] = round(first.compile_ms, 1)
        out["compile_cached_ms"] = round(cached.compile_ms, 1)
    log(f"compile: first {out['compile_first_ms']} ms, cached {out['compile_cached_ms']} ms")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    try:
        bare = [_time_until_ready(_READY_BARE, env) for _ in range(2)]
        out["bare_gradio_s"] = round(min(bare), 2)
    except DataError as exc:
        out["bare_gradio_s"] = None
        out["note"] = str(exc)
    ner_dir = _ner_dir(cfg, prep, log)  # beside the QA model: the app loads both
    out.update(_app_startup(prep, env))
    if ner_dir is not None:
        long_text = max(prep.cases, key=lambda c: len(c.context)).context
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(long_text)
        try:
            for parallel, key in (
                ("0", "peak_rss_mb_qa_ner"),
                ("1", "peak_rss_mb_qa_ner_parallel_windows"),
            ):
                res = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        _MEMORY,
                        str(prep.model_dir),
                        str(ner_dir),
                        f.name,
                        parallel,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=True,
                )
                out[key] = round(float(res.stdout.strip().splitlines()[-1]), 1)
        except (subprocess.SubprocessError, ValueError) as exc:
            out["memory_note"] = str(exc)[-300:]
        finally:
            os.unlink(f.name)
    return out


def _app_startup(prep: BenchSetup, env: dict) -> dict:
    """Our app's start to ready (``serve.build_app``), with a warm compile cache."""
    code = _READY_APP.format(args=f"models_root={str(prep.model_dir.parent)!r}")
    try:
        _time_until_ready(code, env)  # fills the compile cache
        runs = [_time_until_ready(code, env) for _ in range(2)]
    except DataError as exc:
        return {"app_note": str(exc)}
    return {"app_ready_s": round(min(runs), 2)}


def _ner_dir(cfg: BenchConfig, prep: BenchSetup, log) -> Path | None:
    """A random NER model of the same size, for the QA + NER memory figure (--arch only)."""
    if not cfg.arch:
        return None
    from ..export import export

    work = cfg.work_dir / f"{cfg.arch}-{cfg.lang}"
    out = work / "ner-ir"
    if not (out / PRECISION_FILES["FP32"]).exists():
        log("Building a random NER model of the same size for the memory figure ...")
        model, tok = build_checkpoint(
            cfg.arch, cfg.lang, list(prep.cases), work / "ner-ckpt", Task.NER
        )
        export(
            "bench-ner",
            out,
            "ner",
            model=model,
            tokenizer=tok,
            overwrite=True,
            log=log,
            language=cfg.lang,
        )
    return out
