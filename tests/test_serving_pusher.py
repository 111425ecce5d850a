"""ServingPusher (components/serving_pusher/): a blessed model goes to
<base>/<version>/ with the evaluation beside it, saved_model.pb written last;
a model that is not blessed leaves the serving directory untouched."""
from __future__ import annotations

import json
import os
import shutil

import pytest
import tensorflow as tf
from tensorflow_model_analysis.proto import metrics_for_slice_pb2
from tfx import v1 as tfx
from tfx.types import standard_artifacts, standard_component_specs

from components.serving_pusher import executor as pusher_executor
from components.serving_pusher.component import ServingPusher
from components.serving_pusher.spec import EVALUATION_KEY, MIN_SLICE_SIZE_KEY, SERVING_DIR_KEY
from models.run_files import ASSETS_EXTRA

# (slice column or None for overall, value, examples, auc)
SLICES = [(None, None, 500.0, 0.71), ("sparsity_bucket", 2, 420.0, 0.69), ("sparsity_bucket", 5, 80.0, 0.77),
          ("slice_C17", b"e5ba7672", 130.0, 0.74)]
MIN_SLICE_SIZE = 100


def _write_evaluation(directory: str) -> None:
    """TFMA's metrics file (what tfma.load_metrics reads) with one candidate and one diff value per slice."""
    os.makedirs(directory)
    with tf.io.TFRecordWriter(os.path.join(directory, "metrics-00000-of-00001.tfrecord")) as writer:
        for column, value, count, auc in SLICES:
            m = metrics_for_slice_pb2.MetricsForSlice()
            if column:
                key = m.slice_key.single_slice_keys.add(column=column)
                if isinstance(value, bytes):
                    key.bytes_value = value
                else:
                    key.int64_value = value
            for name, number, is_diff in (("example_count", count, False), ("auc", auc, False),
                                          ("auc", -0.5, True)):
                entry = m.metric_keys_and_values.add()
                entry.key.name = name
                entry.key.is_diff = is_diff
                entry.value.double_value.value = number
            writer.write(m.SerializeToString())


def _saved_model(directory: str) -> None:
    module = tf.Module()
    module.w = tf.Variable(2.0)
    module.serve = tf.function(lambda x: {"y": x * module.w}, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, directory, signatures={"serving_default": module.serve})


def _push(tmp_path, blessed: bool):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    _saved_model(os.path.join(model.uri, "Format-Serving"))
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", int(blessed))
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = str(tmp_path / "evaluation")
    _write_evaluation(evaluation.uri)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed")
    base = tmp_path / "serving" / "sparsectr"
    pusher_executor.Executor().Do(
        {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_BLESSING_KEY: [blessing],
         EVALUATION_KEY: [evaluation]},
        {standard_component_specs.PUSHED_MODEL_KEY: [pushed]},
        {SERVING_DIR_KEY: str(base),
         standard_component_specs.CUSTOM_CONFIG_KEY: json.dumps({MIN_SLICE_SIZE_KEY: MIN_SLICE_SIZE})})
    return base, pushed


def test_a_blessed_model_is_pushed_with_its_evaluation_and_serves(tmp_path):
    base, pushed = _push(tmp_path, blessed=True)
    versions = os.listdir(base)
    assert len(versions) == 1 and versions[0].isdigit()
    version_dir = base / versions[0]
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_destination") == str(version_dir)
    assert pushed.get_string_custom_property("pushed_version") == versions[0]
    out = tf.saved_model.load(str(version_dir)).signatures["serving_default"](x=tf.constant([1.5]))
    assert out["y"].numpy().tolist() == [3.0]
    with open(version_dir / ASSETS_EXTRA / pusher_executor.EVALUATION_FILE) as f:
        evaluation = json.load(f)
    assert evaluation["min_slice_size"] == MIN_SLICE_SIZE
    # Candidate values only (no diffs); the 80-example bucket keeps its count only; raw-feature slices by value.
    assert evaluation["slices"] == {
        "overall": {"example_count": 500.0, "auc": 0.71},
        "sparsity_bucket=2": {"example_count": 420.0, "auc": 0.69},
        "sparsity_bucket=5": {"example_count": 80.0},
        "C17=e5ba7672": {"example_count": 130.0, "auc": 0.74},
    }
    # The archive copy in the PushedModel artifact is the same model.
    assert sorted(os.listdir(pushed.uri)) == sorted(os.listdir(version_dir))


def test_a_model_that_is_not_blessed_is_not_pushed(tmp_path):
    base, pushed = _push(tmp_path, blessed=False)
    assert not base.exists()
    assert pushed.get_int_custom_property("pushed") == 0


def test_saved_model_pb_is_copied_last(tmp_path, monkeypatch):
    """TF Serving loads a version as soon as saved_model.pb appears."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    _saved_model(str(src))
    seen = []
    copy_file = pusher_executor.io_utils.copy_file

    def spy(a, b, *args, **kwargs):
        seen.append(sorted(os.listdir(dst)))
        return copy_file(a, b, *args, **kwargs)

    monkeypatch.setattr(pusher_executor.io_utils, "copy_file", spy)
    pusher_executor.copy_model(str(src), str(dst))
    assert seen and "saved_model.pb" not in seen[-1] and "variables" in seen[-1]
    assert sorted(os.listdir(dst)) == sorted(os.listdir(src))


def test_component_takes_the_evaluation_and_the_minimum_slice_size():
    channel = lambda kind: tfx.dsl.Channel(type=kind)  # noqa: E731
    pusher = ServingPusher(model=channel(standard_artifacts.Model), model_blessing=channel(standard_artifacts.ModelBlessing),
                           evaluation=channel(standard_artifacts.ModelEvaluation), min_slice_size=250,
                           serving_dir="/srv")
    assert set(pusher.inputs) == {"model", "model_blessing", EVALUATION_KEY}
    assert json.loads(pusher.exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY]) == {MIN_SLICE_SIZE_KEY: 250}
    assert pusher.exec_properties[SERVING_DIR_KEY] == "/srv"
    with pytest.raises(TypeError):
        ServingPusher(model=channel(standard_artifacts.Model), model_blessing=channel(standard_artifacts.ModelBlessing),
                      evaluation=channel(standard_artifacts.Examples))


def test_an_interrupted_push_leaves_no_version_and_the_next_push_cleans_up(tmp_path, monkeypatch):
    """A crash mid-copy must not leave a version directory TF Serving would load: the copy goes to a
    temporary name and is renamed into place; the next push removes the leftover."""
    copy_file = pusher_executor.io_utils.copy_file
    calls = []

    def crash_on_saved_model_pb(a, b, *args, **kwargs):
        calls.append(b)
        if str(b).endswith(pusher_executor.SAVED_MODEL_FILE) and "serving" in str(b):
            raise KeyboardInterrupt("killed mid-copy")
        return copy_file(a, b, *args, **kwargs)

    monkeypatch.setattr(pusher_executor.io_utils, "copy_file", crash_on_saved_model_pb)
    with pytest.raises(KeyboardInterrupt):
        _push(tmp_path, blessed=True)
    base = tmp_path / "serving" / "sparsectr"
    left = os.listdir(base)
    assert len(left) == 1 and left[0].startswith(pusher_executor.INCOMPLETE_PREFIX), left
    assert not any(name.isdigit() for name in left)  # TF Serving sees no version

    monkeypatch.setattr(pusher_executor.io_utils, "copy_file", copy_file)
    for name in ("model", "blessing", "evaluation", "pushed"):
        shutil.rmtree(tmp_path / name, ignore_errors=True)
    _push(tmp_path, blessed=True)
    versions = os.listdir(base)
    assert len(versions) == 1 and versions[0].isdigit(), versions
    assert tf.saved_model.load(str(base / versions[0])).signatures["serving_default"] is not None
