"""app/downloads.py: bounded per-process run files (issue 11)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from qa_demo.app.downloads import MAX_RUN_FILES, RunFiles


def test_run_files_are_bounded_unique_and_the_oldest_go_first(tmp_path):
    files = RunFiles(tmp_path / "runs", limit=3)
    paths = [files.write({"i": i}) for i in range(7)]
    assert len(set(paths)) == 7  # never a reused name (id(run) was)
    left = sorted((tmp_path / "runs").iterdir())
    assert left == paths[-3:] == files.files()
    assert [json.loads(p.read_text(encoding="utf-8"))["i"] for p in left] == [4, 5, 6]
    assert MAX_RUN_FILES >= 1


def test_run_files_stay_bounded_under_concurrent_answers(tmp_path):
    files = RunFiles(tmp_path, limit=5)
    written: list[Path] = []

    def worker(k: int) -> None:
        for i in range(10):
            written.append(files.write({"k": k, "i": i}))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(written)) == 60
    assert len(list(tmp_path.iterdir())) == 5


def test_one_run_directory_per_process_removed_at_exit():
    code = (
        "from qa_demo.app.downloads import run_files\n"
        "a, b = run_files(), run_files()\n"
        "assert a is b\n"
        "a.write({'x': 1})\n"
        "assert len(list(a.dir.iterdir())) == 1\n"
        "print(a.dir)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    run_dir = Path(out.stdout.strip())
    assert run_dir.name.startswith("qa-demo-runs-")
    assert not run_dir.exists()  # atexit removed it
