"""The compiled Kubeflow pipeline run task by task inside the component image (pipeline/kfp_local.py):
the image is built from kubeflow/Dockerfile, every task runs through its compiled container command
and TFX's kubeflow_v2_run_executor entrypoint, artifacts pass through a mounted pipeline root, and
the pushed model serves. Two runs: the first with run parameters (loss, alpha, beta, epochs, seed,
data and serving locations) that must reach the components; the second with a blessing threshold
no model meets, which must find the first run's blessed model as its baseline and push nothing.

Needs podman (and, without Docker Hub, debootstrap for the base image): `.ci/run` installs both and
runs this file with `-m container`; the default test command leaves it out (pytest.ini).
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from models.hparams import default_alpha
from models.run_files import ASSETS_EXTRA, CONFIG_FILE
from models.serving_contract import PROBABILITY_KEY
from sparsectr.cli import main
from conftest import PROJECT_ROOT

pytestmark = [pytest.mark.container, pytest.mark.slow]

TAG = "localhost/sparsectr:test"
BASE = os.environ.get("SPARSECTR_TEST_BASE_IMAGE", "localhost/debian-python:bookworm")
# What podman needs on these machines (README, "Deploying to Kubeflow Pipelines").
ENGINE_FLAGS = ("--runtime", "runc")
RUN_FLAGS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "host")
RESOLVER = "latest_blessed_model_resolver-model-resolver"


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (apt-get install -y podman runc debootstrap; .ci/run does)")
    if BASE.startswith("localhost/debian-python"):
        subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "make_debian_base.sh"), BASE], check=True)
    subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "build_image.sh"), "--tag", TAG, "--base", BASE,
                    "--engine", "podman", "--", *ENGINE_FLAGS, *RUN_FLAGS], check=True)
    return TAG


def _serving_versions(serving_dir: str) -> list[str]:
    return sorted(os.listdir(serving_dir)) if os.path.isdir(serving_dir) else []


def test_every_compiled_task_runs_in_the_image_and_the_pushed_model_serves(image, tmp_path, criteo_dir):
    data_dir = os.path.realpath(criteo_dir)
    job = tmp_path / "pipeline.json"
    # Compiled with defaults a run then overrides: any wiring left out would show below.
    assert main(["compile-kfp", "--out", str(job), "--image", image, "--data", os.path.join(data_dir, "kaggle_train_head10k.tsv"),
                 "--output", "/nonexistent/compile-time-output", "--epochs", "7", "--loss", "bce"]) == 0
    root = tmp_path / "root"
    serving_dir = str(root / "serving" / "sparsectr")

    def run(*parameters: str) -> dict:
        """`sparsectr run-kfp-local` as the README gives it; each task's outputs."""
        out = tmp_path / "results.json"
        assert main(["run-kfp-local", "--pipeline", str(job), "--pipeline-root", str(root), "--mount", data_dir,
                     "--engine-flags", " ".join(ENGINE_FLAGS), "--run-flags", " ".join(RUN_FLAGS), "--json", str(out),
                     *(f"--param={p}" for p in parameters)]) == 0
        return {task: result["outputs"] for task, result in json.loads(out.read_text()).items()}

    first = run(f"data_root={data_dir}", f"serving_dir={serving_dir}", "loss=combined_pair", "alpha=-1", "beta=0.5",
                "epochs=2", "seed=3")

    with open(job) as f:
        tasks = set(json.load(f)["pipelineSpec"]["root"]["dag"]["tasks"])
    assert set(first) == tasks
    versions = _serving_versions(serving_dir)
    assert len(versions) == 1
    version_dir = os.path.join(serving_dir, versions[0])

    # The run's settings reached the Trainer (and through beta, Transform's example weights).
    with open(os.path.join(version_dir, ASSETS_EXTRA, CONFIG_FILE)) as f:
        model = json.load(f)
    assert (model["loss"], model["beta"], model["epochs"], model["seed"]) == ("combined_pair", 0.5, 2, 3)
    assert model["alpha"] == pytest.approx(default_alpha("combined_pair", 0.5))
    with open(os.path.join(version_dir, ASSETS_EXTRA, "evaluation.json")) as f:
        overall = json.load(f)["slices"]["overall"]
    positives = overall["example_count"] * overall["mean_label"]
    assert overall["weighted_example_count"] == pytest.approx(overall["example_count"] - 0.5 * positives, rel=1e-6)

    # The pushed SavedModel serves real rows it never trained on (the test split CriteoExampleGen wrote):
    # probabilities, better than chance.
    [examples] = first["CriteoExampleGen"]["examples"]
    test_files = glob.glob(os.path.join(examples["uri"], "Split-test", "*.gz"))
    records = [r for path in test_files for r in tf.data.TFRecordDataset(path, compression_type="GZIP").as_numpy_iterator()]
    labels = [tf.train.Example.FromString(r).features.feature["label"].int64_list.value[0] for r in records]
    assert 800 < len(records) < 1200 and 100 < sum(labels)  # about a tenth of the 10,000 rows
    serve = tf.saved_model.load(version_dir).signatures["serving_default"]
    probabilities = serve(examples=tf.constant(records))[PROBABILITY_KEY].numpy().ravel()
    assert np.all((probabilities > 0) & (probabilities < 1))
    assert roc_auc_score(labels, probabilities) > 0.65

    # A second run under the same root: the resolver returns the first run's blessed model, and a
    # threshold no model meets keeps the candidate from being pushed.
    second = run(f"data_root={data_dir}", f"serving_dir={serving_dir}", "epochs=1", "min_auc=0.99")
    assert [a["uri"] for a in second[RESOLVER]["model"]] == [a["uri"] for a in first["Trainer"]["model"]]
    assert second["Evaluator"]["blessing"][0]["metadata"]["blessed"] == 0
    assert second["ServingPusher"]["pushed_model"][0]["metadata"]["pushed"] == 0
    assert _serving_versions(serving_dir) == versions
