"""`sparsectr submit-kfp` against a stand-in for the Kubeflow Pipelines REST API (v2beta1) on
localhost: kfp.Client's real requests, checked for what they upload and run. Vertex AI: the
PipelineJob is built from the compiled file offline (submitting needs Google Cloud)."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from sparsectr.cli import main


class FakeKfpApi(BaseHTTPRequestHandler):
    """Answers the calls kfp.Client makes to upload a pipeline (or a version) and start a run."""

    requests: list = []
    pipelines: dict = {}  # name -> id

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def _reply(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self) -> tuple[str, dict, bytes]:
        url = urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.requests.append((self.command, url.path, parse_qs(url.query), body))
        return url.path, parse_qs(url.query), body

    def do_GET(self):
        path, query, _ = self._record()
        if path == "/apis/v2beta1/healthz":
            return self._reply({"multi_user": False})
        if path == "/apis/v2beta1/pipelines":
            wanted = json.loads(query["filter"][0])["predicates"][0]["stringValue"]
            found = [{"pipeline_id": pid, "display_name": name} for name, pid in self.pipelines.items() if name == wanted]
            return self._reply({"pipelines": found, "total_size": len(found)})
        if path == "/apis/v2beta1/experiments":
            return self._reply({"experiments": [], "total_size": 0})
        if path == "/apis/v2beta1/pipelines/pipeline-1/versions":
            return self._reply({"pipeline_versions": [{"pipeline_id": "pipeline-1", "pipeline_version_id": "version-1"}],
                                "total_size": 1})
        self.send_error(404)

    def do_POST(self):
        path, query, body = self._record()
        if path == "/apis/v2beta1/pipelines/upload":
            self.pipelines[query["name"][0]] = "pipeline-1"
            return self._reply({"pipeline_id": "pipeline-1", "display_name": query["name"][0]})
        if path == "/apis/v2beta1/pipelines/upload_version":
            return self._reply({"pipeline_id": query["pipelineid"][0], "pipeline_version_id": "version-2",
                                "display_name": query["name"][0]})
        if path == "/apis/v2beta1/experiments":
            return self._reply({"experiment_id": "experiment-1", **json.loads(body)})
        if path == "/apis/v2beta1/runs":
            return self._reply({"run_id": "run-7", **json.loads(body)})
        self.send_error(404)


@pytest.fixture
def kfp_api(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # kfp.Client keeps a context file in ~/.config/kfp
    FakeKfpApi.requests, FakeKfpApi.pipelines = [], {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKfpApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def pipeline_json(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("kfp") / "pipeline.json"
    assert main(["compile-kfp", "--out", str(out), "--image", "registry.example/sparsectr:1"]) == 0
    return str(out)


def _uploaded_spec(body: bytes) -> dict:
    """The JSON file inside the multipart upload."""
    return json.loads(re.search(rb"\r\n\r\n(\{.*\})\r\n--", body, re.S).group(1))


def test_submit_uploads_the_pipeline_spec_and_runs_it_with_typed_parameters(kfp_api, pipeline_json, capsys):
    assert main(["submit-kfp", "--pipeline", pipeline_json, "--host", kfp_api, "--experiment", "ctr",
                 "--param", "beta=0.25", "--param", "epochs=3", "--param", "loss=combined_pair",
                 "--pipeline-root", "gs://bucket/root"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"run run-7: {kfp_api}/#/runs/details/run-7")
    calls = [(method, path) for method, path, _, _ in FakeKfpApi.requests]
    assert ("POST", "/apis/v2beta1/pipelines/upload") in calls and calls[-1] == ("POST", "/apis/v2beta1/runs")
    upload = next(r for r in FakeKfpApi.requests if r[1] == "/apis/v2beta1/pipelines/upload")
    with open(pipeline_json) as f:
        assert _uploaded_spec(upload[3]) == json.load(f)["pipelineSpec"]  # the PipelineSpec, not the job
    run = json.loads(FakeKfpApi.requests[-1][3])
    assert run["experiment_id"] == "experiment-1"
    assert run["pipeline_version_reference"] == {"pipeline_id": "pipeline-1", "pipeline_version_id": "version-1"}
    assert run["runtime_config"]["pipeline_root"] == "gs://bucket/root"
    parameters = run["runtime_config"]["parameters"]
    # Every parameter is sent, typed: the overrides and the compiled defaults.
    assert parameters["beta"] == 0.25 and parameters["epochs"] == 3 and parameters["loss"] == "combined_pair"
    assert parameters["alpha"] == -1.0 and parameters["data_root"] == "gs://YOUR_BUCKET/criteo"
    # A second submission of the same pipeline name uploads a new version and runs that.
    assert main(["submit-kfp", "--pipeline", pipeline_json, "--host", kfp_api]) == 0
    assert any(path == "/apis/v2beta1/pipelines/upload_version" for _, path, _, _ in FakeKfpApi.requests)
    assert json.loads(FakeKfpApi.requests[-1][3])["pipeline_version_reference"] == {
        "pipeline_id": "pipeline-1", "pipeline_version_id": "version-2"}


def test_a_bad_parameter_fails_before_anything_is_sent(kfp_api, pipeline_json):
    with pytest.raises(ValueError, match="betta: the pipeline has no such parameter"):
        main(["submit-kfp", "--pipeline", pipeline_json, "--host", kfp_api, "--param", "betta=0.2"])
    assert FakeKfpApi.requests == []


def test_vertex_job_is_built_from_the_compiled_pipeline(pipeline_json):
    from google.auth.credentials import AnonymousCredentials

    from pipeline.kfp_submit import vertex_job

    job = vertex_job(pipeline_json, "my-project", "europe-west4", ["beta=0.5", "seed=3"],
                     pipeline_root="gs://bucket/vertex", credentials=AnonymousCredentials())
    config = job.runtime_config
    assert config.gcs_output_directory == "gs://bucket/vertex"
    values = dict(config.parameter_values)
    assert values["beta"] == 0.5 and values["seed"] == 3 and values["loss"] == "bce" and values["alpha"] == -1.0
