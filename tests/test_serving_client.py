"""The TF Serving client: requests built from real Criteo rows follow TF
Serving's documented REST format (binary strings as {"b64": ...}) and parse
as tensorflow-serving-api protos; both transports round-trip through local
stand-ins for TF Serving's REST endpoint and gRPC PredictionService."""
from __future__ import annotations

import base64
import json
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, HTTPServer

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from models import features
from models.criteo_rows import read_rows
from models.serving_contract import serialized_examples
from sparsectr import serving_client
from sparsectr.cli import main

ROWS = 7


@pytest.fixture(scope="module")
def rows(criteo_dir):
    return read_rows(str(criteo_dir / "kaggle_train_head10k.tsv"), strict=True)[:ROWS]


def _fake_probabilities(serialized: list[bytes]) -> list[float]:
    """What the stand-ins answer: a value per example that depends on its content (its I1)."""
    values = []
    for s in serialized:
        example = tf.train.Example.FromString(s)
        i1 = example.features.feature["I1"].int64_list.value
        values.append(1 / (2 + (i1[0] if i1 else 0) ** 2))
    return values


def test_rest_url_follows_tf_serving_paths():
    assert serving_client.rest_url("http://h:8501/", "m") == "http://h:8501/v1/models/m:predict"
    assert serving_client.rest_url("http://h:8501", "m", 3) == "http://h:8501/v1/models/m/versions/3:predict"


def test_rest_body_carries_each_row_as_a_b64_serialized_example_without_its_label(rows):
    body = json.loads(json.dumps(serving_client.rest_body(serialized_examples(rows))))  # valid JSON
    assert set(body) == {"signature_name", "inputs"} and body["signature_name"] == "serving_default"
    [(name, instances)] = body["inputs"].items()
    assert name == "examples" and len(instances) == ROWS and all(set(i) == {"b64"} for i in instances)
    for row, instance in zip(rows, instances):
        example = tf.train.Example.FromString(base64.b64decode(instance["b64"]))
        assert features.LABEL_KEY not in example.features.feature
        for name in features.INTEGER_FEATURE_KEYS:
            assert list(example.features.feature[name].int64_list.value) == ([row[name]] if name in row else [])
        for name in features.CATEGORICAL_FEATURE_KEYS:
            expected = [row[name]] if name in row else []
            assert list(example.features.feature[name].bytes_list.value) == expected


def test_grpc_request_parses_as_a_predict_request(rows):
    serialized = serialized_examples(rows)
    wire = serving_client.grpc_request(serialized, "sparsectr", version=4).SerializeToString()
    request = predict_pb2.PredictRequest.FromString(wire)
    assert (request.model_spec.name, request.model_spec.signature_name) == ("sparsectr", "serving_default")
    assert request.model_spec.version.value == 4
    tensor = request.inputs["examples"]
    assert tensor.dtype == tf.string.as_datatype_enum and [d.size for d in tensor.tensor_shape.dim] == [ROWS]
    assert list(tf.make_ndarray(tensor)) == serialized


class _RestStandIn(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _RestStandIn.seen.append((self.path, body))
        serialized = [base64.b64decode(i["b64"]) for i in body["inputs"]["examples"]]
        answer = json.dumps({"outputs": {"probability": _fake_probabilities(serialized),
                                         "logit": [0.0] * len(serialized)}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


class _GrpcStandIn(prediction_service_pb2_grpc.PredictionServiceServicer):
    seen: list = []

    def Predict(self, request, context):  # noqa: N802 (the service's method name)
        _GrpcStandIn.seen.append(request)
        serialized = list(tf.make_ndarray(request.inputs["examples"]))
        response = predict_pb2.PredictResponse()
        response.outputs["probability"].CopyFrom(
            tf.make_tensor_proto(np.array(_fake_probabilities(serialized), dtype=np.float32)))
        return response


def test_serve_client_scores_rows_over_rest_and_grpc_in_batches(criteo_dir, rows, tmp_path):
    data = tmp_path / "rows.tsv"
    data.write_bytes(b"".join((criteo_dir / "kaggle_train_head10k.tsv").read_bytes().splitlines(True)[:ROWS]))
    expected = _fake_probabilities(serialized_examples(rows))

    http = HTTPServer(("127.0.0.1", 0), _RestStandIn)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_GrpcStandIn(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        for url, out in ((f"http://127.0.0.1:{http.server_port}", "rest.txt"), (f"127.0.0.1:{port}", "grpc.txt")):
            assert main(["serve-client", "--url", url, "--data", str(data), "--batch-size", "3",
                         "--out", str(tmp_path / out)]) == 0
            got = np.loadtxt(tmp_path / out)
            np.testing.assert_allclose(got, expected, rtol=1e-6)
    finally:
        http.shutdown()
        server.stop(None)
    assert [path for path, _ in _RestStandIn.seen] == ["/v1/models/sparsectr:predict"] * 3  # 7 rows, batches of 3
    assert [len(r.inputs["examples"].string_val) for r in _GrpcStandIn.seen] == [3, 3, 1]


def test_client_reports_bad_lines_and_strict_refuses_them(tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("0\t1" + "\t" * 38 + "\n" + "2\tx\n")
    assert main(["serve-client", "--url", "http://127.0.0.1:1", "--data", str(bad), "--strict"]) == 1
    err = capsys.readouterr().err
    assert "bad.tsv: 1 bad line(s) (line 2: wrong_column_count" in err and "--strict" in err
    assert "Traceback" not in err


class _FaultyServer(BaseHTTPRequestHandler):
    """A REST stand-in that answers wrongly: `mode` is one of one_per_batch (one probability for the
    whole batch), out_of_range (7.0 for every row) or fail_once (503 on the first request)."""
    mode = ""
    requests = 0

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        n = len(body["inputs"]["examples"])
        _FaultyServer.requests += 1
        if self.mode == "fail_once" and _FaultyServer.requests == 1:
            status, answer = 503, b"overloaded"
        else:
            probabilities = {"one_per_batch": [0.5], "out_of_range": [7.0] * n}.get(self.mode, [0.25] * n)
            status, answer = 200, json.dumps({"outputs": {"probability": probabilities}}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("mode,code,message", [
    ("one_per_batch", 1, "batch 1 (rows 1-3): .* answered 1 probabilities (shape [1]) for 3 rows"),
    ("out_of_range", 1, "batch 1 (rows 1-3): .* 3 probabilities are outside [0, 1]"),
    ("fail_once", 0, "answered 503: overloaded; retrying in 0s (1 of 3)"),
])
def test_serve_client_checks_every_answer_and_retries_a_5xx(criteo_dir, tmp_path, capsys, mode, code, message):
    data = tmp_path / "rows.tsv"
    data.write_bytes(b"".join((criteo_dir / "kaggle_train_head10k.tsv").read_bytes().splitlines(True)[:ROWS]))
    _FaultyServer.mode, _FaultyServer.requests = mode, 0
    http = HTTPServer(("127.0.0.1", 0), _FaultyServer)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        got = main(["serve-client", "--url", f"http://127.0.0.1:{http.server_port}", "--data", str(data),
                    "--batch-size", "3", "--backoff", "0", "--out", str(tmp_path / "out.txt")])
    finally:
        http.shutdown()
    err = capsys.readouterr().err
    assert got == code, err
    assert re.search(re.escape(message).replace(re.escape(".*"), ".*"), err), err
    assert "Traceback" not in err
    if code == 0:
        assert np.loadtxt(tmp_path / "out.txt").tolist() == [0.25] * ROWS and _FaultyServer.requests == 4
    else:
        assert not (tmp_path / "out.txt").exists()


def test_serve_client_gives_up_after_its_retries_in_one_line(criteo_dir, tmp_path, capsys):
    data = tmp_path / "rows.tsv"
    data.write_bytes(b"".join((criteo_dir / "kaggle_train_head10k.tsv").read_bytes().splitlines(True)[:2]))
    assert main(["serve-client", "--url", "http://127.0.0.1:9", "--data", str(data), "--retries", "2",
                 "--backoff", "0", "--timeout", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("sparsectr serve-client: batch 1 (rows 1-2): failed 3 times, last: ")
    assert "ConnectionError" in err[-1] and "Traceback" not in "\n".join(err)


def test_deployment_files_agree_with_the_pipeline_and_the_client():
    """serving/: the model config parses as TF Serving's ModelServerConfig and names the
    pipeline's model; the image matches the TensorFlow that trains; ports match the client's."""
    import yaml
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    from pipeline.config import PROJECT_ROOT, PipelineConfig

    serving = PROJECT_ROOT / "serving"
    config = text_format.Parse((serving / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    [model] = config.model_config_list.config
    model_name = PipelineConfig(data=".", output_dir=".").model_name
    assert (model.name, model.base_path, model.model_platform) == (model_name, f"/models/{model_name}", "tensorflow")
    deployment = yaml.safe_load((serving / "k8s" / "deployment.yaml").read_text())
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    image = container["image"]  # the same TF minor release (TF Serving 2.16.1 for TF 2.16.x)
    assert image.startswith("tensorflow/serving:" + ".".join(tf.__version__.split(".")[:2]) + ".")
    assert image in (serving / "docker_run.sh").read_text()
    assert {p["containerPort"] for p in container["ports"]} == {serving_client.REST_PORT, serving_client.GRPC_PORT}
    assert container["readinessProbe"]["httpGet"]["path"] == f"/v1/models/{model_name}"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert f"--model_config_file={mounts['config']}/models.config" in container["args"]
    assert model.base_path.startswith(mounts["models"] + "/")
    service = yaml.safe_load((serving / "k8s" / "service.yaml").read_text())
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert {p["port"] for p in service["spec"]["ports"]} == {serving_client.REST_PORT, serving_client.GRPC_PORT}
