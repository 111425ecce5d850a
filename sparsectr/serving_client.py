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
import dataclasses
import time
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


class ServingError(RuntimeError):
    """TF Serving could not be reached, refused a request, or answered something that is not one
    probability per row sent."""


class _Retryable(ServingError):
    """A failure worth another attempt: a 5xx answer, a lost connection, a timeout."""


def _probabilities(values: Any, sent: int, where: str) -> np.ndarray:
    """The answer's probabilities, checked: one per row sent, each in [0, 1]."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ServingError(f"{where}: the answer's {PROBABILITY_KEY!r} is not a list of numbers") from None
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.shape != (sent,):
        raise ServingError(f"{where}: the server answered {array.size} probabilities (shape {list(array.shape)}) "
                           f"for {sent} rows")
    outside = np.flatnonzero(~((array >= 0) & (array <= 1)))
    if outside.size:
        raise ServingError(f"{where}: {outside.size} probabilities are outside [0, 1] (row {outside[0] + 1} of the "
                           f"batch: {array[outside[0]]!r}); is this the sparsectr model?")
    return array


def predict_rest(base_url: str, model_name: str, serialized: Sequence[bytes], version: Optional[int] = None,
                 timeout: float = 30.0) -> np.ndarray:
    import requests

    url = rest_url(base_url, model_name, version)
    try:
        response = requests.post(url, json=rest_body(serialized), timeout=timeout)
    except (requests.ConnectionError, requests.Timeout) as e:
        raise _Retryable(f"{url}: {type(e).__name__}: {e}") from None
    if response.status_code >= 500:
        raise _Retryable(f"{url} answered {response.status_code}: {response.text[:200]}")
    if response.status_code != 200:
        raise ServingError(f"{url} answered {response.status_code}: {response.text[:500]}")
    try:
        values = response.json()["outputs"][PROBABILITY_KEY]
    except (ValueError, KeyError, TypeError):
        raise ServingError(f"{url}: the answer has no outputs.{PROBABILITY_KEY}: {response.text[:200]}") from None
    return _probabilities(values, len(serialized), url)


_GRPC_RETRYABLE = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "INTERNAL")


def predict_grpc(target: str, model_name: str, serialized: Sequence[bytes], version: Optional[int] = None,
                 timeout: float = 30.0) -> np.ndarray:
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(grpc_request(serialized, model_name, version), timeout=timeout)
        except grpc.RpcError as e:
            error = _Retryable if e.code().name in _GRPC_RETRYABLE else ServingError
            raise error(f"{target}: gRPC {e.code().name}: {e.details()}") from None
    if PROBABILITY_KEY not in response.outputs:
        raise ServingError(f"{target}: the answer has no {PROBABILITY_KEY!r} output")
    return _probabilities(tf.make_ndarray(response.outputs[PROBABILITY_KEY]), len(serialized), target)


@dataclasses.dataclass(frozen=True)
class Retries:
    """How often a failed batch is sent again (5xx answers, lost connections, timeouts) and how long
    to wait first: `backoff` seconds, doubled each time."""
    attempts: int = 3
    backoff: float = 1.0


def _send_with_retries(send: Callable[[], np.ndarray], retries: Retries, what: str,
                       progress: Optional[Callable[[str], None]]) -> np.ndarray:
    for attempt in range(retries.attempts + 1):
        try:
            return send()
        except _Retryable as e:
            if attempt == retries.attempts:
                raise ServingError(f"{what}: failed {attempt + 1} times, last: {e}") from None
            wait = retries.backoff * 2 ** attempt
            if progress:
                progress(f"{what}: {e}; retrying in {wait:g}s ({attempt + 1} of {retries.attempts})")
            time.sleep(wait)
    raise AssertionError("unreachable")


def predict(url: str, model_name: str, rows: Sequence[dict[str, Any]], batch_size: int = 256,
            version: Optional[int] = None, progress: Optional[Callable[[str], None]] = None,
            timeout: float = 30.0, retries: Retries = Retries()) -> np.ndarray:
    """Click probabilities of raw Criteo rows from a running TF Serving, `batch_size` rows per request:
    REST for http(s):// URLs, gRPC for HOST:PORT or grpc://HOST:PORT. Every answer is checked (one
    probability in [0, 1] per row sent); a failure raises ServingError naming the batch."""
    rest = url.startswith(("http://", "https://"))
    target = url if rest else url.removeprefix("grpc://")
    send = predict_rest if rest else predict_grpc
    parts = []
    for start in range(0, len(rows), batch_size):
        batch = serialized_examples(rows[start:start + batch_size])
        what = f"batch {start // batch_size + 1} (rows {start + 1}-{start + len(batch)})"
        try:
            parts.append(_send_with_retries(lambda: send(target, model_name, batch, version, timeout), retries,
                                            what, progress))
        except ServingError as e:
            message = str(e)
            raise ServingError(message if message.startswith(what) else f"{what}: {message}") from None
        if progress:
            progress(f"{start + len(batch)}/{len(rows)} rows scored over {'REST' if rest else 'gRPC'}")
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)
