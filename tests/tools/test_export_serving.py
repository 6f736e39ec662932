"""``qa-demo export-serving``: the OVMS repository and manifests, checked field by field."""

from __future__ import annotations

import json
import re

import pytest

from qa_demo.cli import main

yaml = pytest.importorskip("yaml")
kserve = pytest.importorskip("kserve")
k8s_models = pytest.importorskip("kubernetes.client.models")

#: The two generators' spellings of containers: "list[X]"/"List[X]", "dict(str, X)"/"Dict[str, X]".
LIST = re.compile(r"[lL]ist\[(.+)\]")
DICT = re.compile(r"(?:dict\((\w+), (.+)\)|Dict\[(\w+), (.+)\])")
PLAIN = {"str", "int", "bool", "float", "object", "datetime"}


def unknown_fields(doc, type_name: str, where: str = "") -> list[str]:
    """Fields of ``doc`` that the named model (kserve's, or the kubernetes client's) does not
    have, recursively: the manifests validated against the packages' own Python models."""
    if (m := LIST.fullmatch(type_name)) and isinstance(doc, list):
        return [
            e for i, item in enumerate(doc) for e in unknown_fields(item, m[1], f"{where}[{i}]")
        ]
    if (m := DICT.fullmatch(type_name)) and isinstance(doc, dict):
        value_type = m[2] or m[4]
        return [e for k, v in doc.items() for e in unknown_fields(v, value_type, f"{where}.{k}")]
    if type_name in PLAIN or not isinstance(doc, dict):
        return []
    cls = getattr(kserve, type_name, None) or getattr(k8s_models, type_name)
    by_json = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    found = []
    for key, value in doc.items():
        if key not in by_json:
            found.append(f"{where}.{key} (not a field of {type_name})")
            continue
        found += unknown_fields(value, cls.openapi_types[by_json[key]], f"{where}.{key}")
    return found


def test_export_serving_writes_an_ovms_repository_and_valid_manifests(en_qa_dir, tmp_path):
    out = tmp_path / "repo"
    assert main(["export-serving", str(en_qa_dir), "--out", str(out), "--replicas", "3"]) == 0
    name = en_qa_dir.name
    assert (out / name / "1" / "model.xml").exists() and (out / name / "1" / "model.bin").exists()
    config = json.loads((out / "config.json").read_text())
    entry = config["model_config_list"][0]["config"]
    assert entry["name"] == name and entry["base_path"] == f"/models/{name}"
    assert set(entry["shape"].values()) == {"(-1,-1)"} and "input_ids" in entry["shape"]
    assert entry["plugin_config"]["INFERENCE_PRECISION_HINT"] == "f32"
    client = out / "clients" / name
    assert (client / "qa_demo.json").exists() and (client / "config.json").exists()
    assert any((client / f).exists() for f in ("tokenizer.json", "vocab.txt"))

    [isvc] = yaml.safe_load_all((out / "deploy" / "inference-service.yaml").read_text())
    assert unknown_fields(isvc, "V1beta1InferenceService") == []
    model = isvc["spec"]["predictor"]["model"]
    assert (model["modelFormat"]["name"], model["runtime"]) == ("openvino", "kserve-openvino")
    assert model["protocolVersion"] == "v2" and model["storageUri"].endswith(f"/{name}")
    assert isvc["spec"]["predictor"]["minReplicas"] == 3

    deployment, service = yaml.safe_load_all((out / "deploy" / "frontend.yaml").read_text())
    assert unknown_fields(deployment, "V1Deployment") == []
    assert unknown_fields(service, "V1Service") == []
    assert deployment["spec"]["replicas"] == 3
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["QA_DEMO_REMOTE"].startswith(f"http://{name}-predictor.")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_validator_catches_a_misspelt_field():
    bad = {"apiVersion": "v1", "kind": "InferenceService", "spec": {"predictr": {}}}
    assert unknown_fields(bad, "V1beta1InferenceService") == [
        ".spec.predictr (not a field of V1beta1InferenceServiceSpec)"
    ]


def test_export_serving_refuses_a_non_empty_out(en_qa_dir, tmp_path, capsys):
    out = tmp_path / "repo"
    out.mkdir()
    (out / "keep").write_text("x")
    assert main(["export-serving", str(en_qa_dir), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "keep").exists()
