"""The exported model's serving contract: signature, input and output names,
the raw-feature signature's column encoding, and TF Serving's request protos.

Signatures of the SavedModel (models/trainer.py):
- `serving_default`: `examples`, serialized tf.Examples of raw Criteo rows
  (label not needed) -> `probability`, `logit` (calibrated when the model was
  trained with a calibration, models/calibration.py) and `model_logit` (the
  network's logit; equal to `logit` without calibration);
- `predict_raw`: one [batch] string input per Criteo column, I1..I13 and
  C1..C26, for JSON clients: a value as written in the raw log line (decimal
  integers, 8-hex-digit categoricals), "" when missing -> the same outputs;
- `transform_features`: serialized tf.Examples -> the transformed features
  (what TFMA uses for labels, weights and the sparsity bucket).
The trained model's settings are in `assets.extra/model_config.json` and TF
Serving's warmup requests in `assets.extra/tf_serving_warmup_requests`.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from models import features
from models.example_bytes import serialize_row

SERVING_SIGNATURE = "serving_default"
RAW_SIGNATURE = "predict_raw"
TRANSFORM_SIGNATURE = "transform_features"
EXAMPLES_INPUT = "examples"
PROBABILITY_KEY = "probability"
LOGIT_KEY = "logit"
MODEL_LOGIT_KEY = "model_logit"  # the network's click logit before post-hoc calibration
MISSING = ""  # a missing column in `predict_raw`
WARMUP_FILE = "tf_serving_warmup_requests"  # the name TF Serving looks for in assets.extra


def row_to_example(row: Mapping[str, Any]) -> tf.train.Example:
    """A parsed row (parsing.parse_line) as a tf.Example: present features only, a missing value is an
    absent feature; bytes for categoricals, int64 for the label and integers. The protobuf reference
    of models/example_bytes.py, which writes the same bytes directly."""
    feature = {}
    for name, value in row.items():
        if isinstance(value, bytes):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        else:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def predict_serialized(model_dir: str, examples: Sequence[bytes], batch_size: int = 4096) -> dict[str, np.ndarray]:
    """Every output of the SavedModel's `serving_default` for serialized tf.Examples, in batches."""
    serve = tf.saved_model.load(model_dir).signatures[SERVING_SIGNATURE]
    parts = [serve(**{EXAMPLES_INPUT: tf.constant(list(examples[i:i + batch_size]))})
             for i in range(0, len(examples), batch_size)]
    return {key: np.concatenate([part[key].numpy() for part in parts]) for key in parts[0]}


def serialized_examples(rows: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """Each parsed row as a serialized tf.Example without its label (`serving_default`'s input)."""
    return [serialize_row({k: v for k, v in r.items() if k != features.LABEL_KEY}) for r in rows]


def raw_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Parsed rows (missing features absent) -> `predict_raw`'s inputs: a list of strings per column."""
    def text(value) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    return {name: [text(r[name]) if r.get(name) is not None else MISSING for r in rows]
            for name in features.FEATURE_KEYS}


def predict_request(inputs: Mapping[str, Sequence[Any]], signature: str, model_name: str = "",
                    version: Optional[int] = None):
    """A `tensorflow.serving.PredictRequest` with one string tensor per input."""
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for name, values in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(list(values), dtype=tf.string))
    return request


def write_warmup_requests(path: str, serialized_examples: Sequence[bytes], raw_rows: Sequence[Mapping[str, Any]],
                          batch_sizes: Sequence[int] = (1, 64)) -> None:
    """TF Serving's warmup file: `PredictionLog` records replayed when a version loads, so the
    first real requests do not pay for graph initialisation."""
    from tensorflow_serving.apis import prediction_log_pb2

    requests = []
    for size in batch_sizes:
        batch = [serialized_examples[i % len(serialized_examples)] for i in range(size)]
        requests.append(predict_request({EXAMPLES_INPUT: batch}, SERVING_SIGNATURE))
    requests.append(predict_request(raw_columns(raw_rows), RAW_SIGNATURE))
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
