"""``qa-demo export-serving``: an OpenVINO Model Server repository and Kubernetes manifests.

From model directories it writes, into a new directory (moved into place only when complete):

    OUT/config.json                 OVMS: model_config_list, dynamic shapes, plugin_config
    OUT/<name>/1/model.xml, .bin    the IR the server runs (OVMS's <name>/<version> layout)
    OUT/clients/<name>/             the model directory the front end needs for --remote: its
                                    tokenizer, config and qa_demo.json (and the IR, so that input
                                    names are checked and it can still answer locally)
    OUT/deploy/inference-service.yaml   KServe InferenceService per model (kserve-openvino)
    OUT/deploy/frontend.yaml        the Gradio front end: a stateless Deployment + Service
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from ..errors import InputError
from ..model_dir import ModelDir, load_model_dir
from ..options import Precision
from ..precision import Choice
from ..runtime import precision_config
from .atomic import swap_dirs

#: The KServe ClusterServingRuntime that runs OpenVINO Model Server (kserve config/runtimes).
KSERVE_RUNTIME = "kserve-openvino"
#: The container image of the front end, built from this repository (README: Serving).
FRONTEND_IMAGE = "qa-demo:latest"
FRONTEND_PORT = 7860


def serving_choice(model: ModelDir, precision: Precision) -> Choice:
    """The IR and inference precision a server runs: FP32 where the model has it (INT8 for an
    INT8-only model), or the precision asked for. A server cannot run this project's AUTO (it
    goes by agreement measured per CPU), so the choice is made here, explicitly."""
    if precision is Precision.AUTO:
        precision = model.reference_precision
    if not model.has_ir(precision):
        raise InputError(f"{model.name} has no IR for {precision.value}.")
    route = None
    if precision is Precision.INT8:
        route = next(iter(sorted(model.int8_files)), None)
    return Choice(Precision.AUTO, precision, route, "export-serving")


def ovms_entry(model: ModelDir, choice: Choice, base_path: str) -> dict:
    import openvino as ov

    ir = ov.Core().read_model(str(model.xml(choice.precision, choice.route)))
    return {
        "config": {
            "name": model.name,
            "base_path": base_path,
            # -1: dynamic batch and sequence length, as the IR has them.
            "shape": {port.any_name: "(-1,-1)" for port in ir.inputs},
            "plugin_config": {"PERFORMANCE_HINT": "LATENCY", **precision_config(choice)},
        }
    }


def inference_service(name: str, storage_uri: str, replicas: int) -> dict:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {
            "predictor": {
                "minReplicas": replicas,
                "model": {
                    "modelFormat": {"name": "openvino"},
                    "runtime": KSERVE_RUNTIME,
                    "protocolVersion": "v2",
                    "storageUri": f"{storage_uri.rstrip('/')}/{name}",
                },
            }
        },
    }


def frontend(remote_url: str, replicas: int) -> list[dict]:
    labels = {"app": "qa-demo"}
    container = {
        "name": "qa-demo",
        "image": FRONTEND_IMAGE,
        "args": ["qa-demo", "serve", "--host", "0.0.0.0", "--models", "/app/clients"],
        "env": [{"name": "QA_DEMO_REMOTE", "value": remote_url}],
        "ports": [{"containerPort": FRONTEND_PORT}],
        "readinessProbe": {"httpGet": {"path": "/", "port": FRONTEND_PORT}},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "qa-demo-frontend", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "qa-demo-frontend"},
        "spec": {
            "selector": labels,
            "ports": [{"port": 80, "targetPort": FRONTEND_PORT}],
        },
    }
    return [deployment, service]


def export_serving(
    dirs: list[Path],
    out: Path,
    precision: Precision = Precision.AUTO,
    storage_uri: str = "pvc://qa-demo-models",
    replicas: int = 2,
    overwrite: bool = False,
) -> Path:
    """Write the repository and manifests for ``dirs`` into ``out``; returns ``out``."""
    import yaml

    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out} is not empty; pass --overwrite to replace it.")
    models = [load_model_dir(d) for d in dirs]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        entries = [_write_model(m, serving_choice(m, precision), staging) for m in models]
        (staging / "config.json").write_text(
            json.dumps({"model_config_list": entries}, indent=2) + "\n", encoding="utf-8"
        )
        deploy = staging / "deploy"
        deploy.mkdir()
        services = [inference_service(m.name, storage_uri, replicas) for m in models]
        (deploy / "inference-service.yaml").write_text(
            yaml.safe_dump_all(services, sort_keys=False)
        )
        remote = f"http://{models[0].name}-predictor.default.svc.cluster.local"
        (deploy / "frontend.yaml").write_text(
            yaml.safe_dump_all(frontend(remote, replicas), sort_keys=False)
        )
        swap_dirs(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _write_model(model: ModelDir, choice: Choice, root: Path) -> dict:
    xml = model.xml(choice.precision, choice.route)
    version = root / model.name / "1"
    version.mkdir(parents=True)
    shutil.copyfile(xml, version / "model.xml")
    shutil.copyfile(xml.with_suffix(".bin"), version / "model.bin")
    shutil.copytree(model.path, root / "clients" / model.name, symlinks=False)
    return ovms_entry(model, choice, f"/models/{model.name}")


def cmd_export_serving(args) -> None:
    out = export_serving(
        [Path(d) for d in args.dirs],
        Path(args.out),
        Precision.parse(args.precision),
        args.storage_uri,
        args.replicas,
        args.overwrite,
    )
    print(out)


def add_subcommands(sub) -> None:
    p = sub.add_parser(
        "export-serving",
        help="write an OpenVINO Model Server repository and KServe/Kubernetes manifests",
    )
    p.add_argument("dirs", nargs="+", help="model directories")
    p.add_argument("--out", required=True, help="the repository to write")
    p.add_argument(
        "--precision",
        default=Precision.AUTO.value,
        choices=[p.value for p in (Precision.AUTO, Precision.FP32, Precision.BF16, Precision.INT8)],
        help="what the server runs (default: FP32, or INT8 for an INT8-only model)",
    )
    p.add_argument(
        "--storage-uri",
        default="pvc://qa-demo-models",
        help="where KServe finds the repository (a PVC, s3://, gs://); each model below it",
    )
    p.add_argument("--replicas", type=int, default=2, help="front-end and predictor replicas")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_export_serving)
