"""Client of a running TF Serving for the pushed model (`sparsectr serve-client`): batching, the
transport chosen by the URL, the request bodies.

Both transports call the `serving_default` signature, whose one input,
`examples`, takes serialized tf.Examples of raw Criteo rows (labels removed):
- REST (TF Serving's documented API): POST
  `<url>/v1/models/<name>[/versions/<v>]:predict` with the columnar body
  `{"signature_name": ..., "inputs": {"examples": [{"b64": ...}, ...]}}`
  (binary strings travel base64-encoded under a "b64" key); the answer is
  `{"outputs": {"probability": [...], "logit": [...]}}`.
- gRPC: `tensorflow.serving.PredictionService/Predict` with a
  `PredictRequest` (model_spec name/version/signature, `inputs["examples"]` a
  DT_STRING TensorProto).
"""
from __future__ import annotations

import base64
from typing import Any, Callable, Optional, Sequence

import numpy as np

from models.serving_contract import (EXAMPLES_INPUT, PROBABILITY_KEY, SERVING_SIGNATURE, predict_request,
                                     serialized_examples)

REST_PORT, GRPC_PORT = 8501, 8500  # TF Serving's defaults


def rest_url(base_url: str, model_name: str, version: Optional[int] = None) -> str:
    version_part = f"/versions/{version}" if version is not None else ""
    return f"{base_url.rstrip('/')}/v1/models/{model_name}{version_part}:predict"


def rest_body(serialized: Sequence[bytes]) -> dict[str, Any]:
    return {"signature_name": SERVING_SIGNATURE,
            "inputs": {EXAMPLES_INPUT: [{"b64": base64.b64encode(s).decode("ascii")} for s in serialized]}}


def grpc_request(serialized: Sequence[bytes], model_name: str, version: Optional[int] = None):
    return predict_request({EXAMPLES_INPUT: serialized}, SERVING_SIGNATURE, model_name, version)


def predict_rest(base_url: str, model_name: str, serialized: Sequence[bytes], version: Optional[int] = None,
                 timeout: float = 30.0) -> np.ndarray:
    import requests

    url = rest_url(base_url, model_name, version)
    response = requests.post(url, json=rest_body(serialized), timeout=timeout)
    if response.status_code != 200:
        raise RuntimeError(f"TF Serving at {url} answered {response.status_code}: {response.text[:500]}")
    return np.asarray(response.json()["outputs"][PROBABILITY_KEY], dtype=np.float64)


def predict_grpc(target: str, model_name: str, serialized: Sequence[bytes], version: Optional[int] = None,
                 timeout: float = 30.0) -> np.ndarray:
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(grpc_request(serialized, model_name, version), timeout=timeout)
    return tf.make_ndarray(response.outputs[PROBABILITY_KEY]).astype(np.float64)


def predict(url: str, model_name: str, rows: Sequence[dict[str, Any]], batch_size: int = 256,
            version: Optional[int] = None, progress: Optional[Callable[[str], None]] = None) -> np.ndarray:
    """Click probabilities of raw Criteo rows from a running TF Serving, `batch_size` rows per request:
    REST for http(s):// URLs, gRPC for HOST:PORT or grpc://HOST:PORT."""
    rest = url.startswith(("http://", "https://"))
    target = url if rest else url.removeprefix("grpc://")
    send = predict_rest if rest else predict_grpc
    parts = []
    for start in range(0, len(rows), batch_size):
        batch = serialized_examples(rows[start:start + batch_size])
        parts.append(send(target, model_name, batch, version))
        if progress:
            progress(f"{start + len(batch)}/{len(rows)} rows scored over {'REST' if rest else 'gRPC'}")
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)
