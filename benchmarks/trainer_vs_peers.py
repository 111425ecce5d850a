"""Training speed of the product's DCN-V2 against the peer a researcher would run instead (the
paper's DCN-V2 in PyTorch on FuxiCTR's layers: benchmarks/fuxictr_dcn_v2.py) and against the
machine's float32 matmul ceiling, in one run, on the same ids and batch size.

Timed, in examples/s:
  (a) the product's model and train step (models/dcn.py, models/trainer.py: compile_model; Keras fit)
      fed by the Trainer's own tf.data input (Transform's gzipped TFRecords), with BCE and with
      Combined-Pair;
  (b) the same, fed the same batches from memory, and with XLA (Keras jit_compile) for BCE;
  (c) the PyTorch peer, fed the same batches from memory (BCE: FuxiCTR's BaseModel.train_step);
  (d) the ceiling: the machine's best float32 matmul rate (TensorFlow or PyTorch, several shapes)
      divided by the model's matmul FLOPs per example (forward and backward: 6 per weight of every
      dense and cross kernel; embedding lookups, element-wise ops and the optimizer are left out,
      so no implementation can reach it).

RUN_DIR is a pipeline output directory (`sparsectr run`); its latest Transform output is read. The
model, batch size and vocabularies are the ones the Trainer sizes to that training split
(models/sizing.py). Every configuration is warmed up once, then timed in `--rounds` rounds, the
configurations in a shuffled order each round; each round runs `--batches` steps and the first
`SKIP` of them are not timed. A configuration's rate is its fastest round: on a shared machine the
noise only ever adds time.

Then, where the time goes: TensorFlow's profiler over one round of the product fed from memory
(kernel time by op type), and the two readers of Transform's output alone (examples/s and CPU
per example): tfx_bsl's TFXIO factory and the Trainer's.

Needs the optional extra: `bash scripts/setup_env.sh bench`.
Usage: .venv/bin/python benchmarks/trainer_vs_peers.py RUN_DIR [--batches 24] [--rounds 3]
       [--inter-op-threads N]
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import glob
import os
import sys
import tempfile
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import models  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
from sparsectr.progress import quiet_environment  # noqa: E402

quiet_environment()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402
from tfx_bsl.public import tfxio  # noqa: E402

from models import features  # noqa: E402
from models.dcn import build_dcn_v2  # noqa: E402
from models.local_fn_args import local_fn_args  # noqa: E402
from models.trainer import compile_model, make_dataset, training_inputs  # noqa: E402
from models.vocabulary import id_counts  # noqa: E402
from pipeline.run_result import latest_run  # noqa: E402

try:
    import torch
    from fuxictr_dcn_v2 import DCNv2, FeatureMap, batch_tensor
except ImportError as error:  # the product's install has neither
    sys.exit(f"trainer_vs_peers.py needs PyTorch and FuxiCTR ({error}): bash scripts/setup_env.sh bench")

SKIP = 3  # steps of each round not timed: the first batches of a new iterator
MATMUL_SHAPES = ((4096, 390, 500), (4096, 500, 500), (2048, 2048, 2048))
GOAL_PEER, GOAL_CEILING = 2.0, 0.70


def matmul_flops_per_example(model: tf.keras.Model) -> int:
    """6 FLOPs per weight of every 2-D kernel (2 forward, 2 for the input's gradient, 2 for the
    weight's), embedding tables excepted: they are gathered, not multiplied."""
    return sum(6 * int(np.prod(v.shape)) for v in model.trainable_variables
               if len(v.shape) == 2 and "kernel" in v.name)


def _best_rate(step: Callable[[], None], flops: float, repeats: int = 20) -> float:
    step()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeats):
            step()
        best = min(best, (time.perf_counter() - started) / repeats)
    return flops / best


def matmul_ceiling() -> dict[str, float]:
    """Best float32 matmul FLOP/s, by library and shape [m, k] x [k, n]."""
    rates = {}
    for m, k, n in MATMUL_SHAPES:
        flops = 2.0 * m * k * n
        a, b = tf.random.normal([m, k]), tf.random.normal([k, n])
        tf_matmul = tf.function(lambda: tf.linalg.matmul(a, b)[0, 0])
        rates[f"TensorFlow {m}x{k}x{n}"] = _best_rate(lambda: tf_matmul().numpy(), flops)
        x, y = torch.randn(m, k), torch.randn(k, n)
        with torch.no_grad():
            rates[f"PyTorch {m}x{k}x{n}"] = _best_rate(lambda: torch.mm(x, y), flops)
    return rates


def op_seconds(model: tf.keras.Model, dataset: tf.data.Dataset, steps: int, logdir: str) -> tuple[dict, float]:
    """TensorFlow's profiler over `steps` Keras steps: seconds per op type summed over the compute
    threads (tf_Compute lines of the host plane), and the wall time."""
    model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)
    tf.profiler.experimental.start(logdir)
    started = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    wall = time.perf_counter() - started
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    with open(max(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True), key=os.path.getmtime),
              "rb") as f:
        space.ParseFromString(f.read())
    seconds = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if line.name.startswith("tf_Compute"):
                for event in line.events:
                    name = plane.event_metadata[event.metadata_id].name  # "scope/op:OpType" for a kernel
                    if ":" in name and not name.startswith("Executor"):
                        seconds[name.rsplit(":", 1)[1]] += event.duration_ps / 1e12
    return seconds, wall


def input_cost(dataset: tf.data.Dataset, batches: int) -> tuple[float, float]:
    """(examples/s, CPU microseconds per example) of an input pipeline alone, after one batch."""
    iterator = iter(dataset)
    first = next(iterator)
    size = int(tf.shape(first[1])[0])
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(iterator)
    return batches * size / (time.perf_counter() - started), 1e6 * (time.process_time() - cpu) / (batches * size)


def print_profile(model: tf.keras.Model, in_memory: tf.data.Dataset, steps: int, fn_args, tft_output, config) -> None:
    seconds, wall = op_seconds(model, in_memory, steps, tempfile.mkdtemp())
    total = sum(seconds.values())
    cores = len(os.sched_getaffinity(0))
    print(f"\nwhere a step's time goes (product, bce, fed from memory; TensorFlow profiler over {steps} steps): "
          f"kernels busy {total:.2f} s of {wall:.2f} s x {cores} cores ({total / (wall * cores):.0%})\n")
    print("| op type | share of kernel time |\n|---|---|")
    for op, value in seconds.most_common(12):
        print(f"| {op} | {value / total:.1%} |")
    print("\ninput pipelines alone, train split, shuffled, batch %d:\n" % config.batch_size)
    print("| reader | examples/s | CPU microseconds per example |\n|---|---|---|")
    readers = {
        "tfx_bsl TFXIO factory (fn_args.data_accessor)": fn_args.data_accessor.tf_dataset_factory(
            fn_args.train_files, tfxio.TensorFlowDatasetOptions(
                batch_size=config.batch_size, label_key=features.LABEL_KEY, num_epochs=None, shuffle=True,
                shuffle_seed=config.seed), tft_output.transformed_metadata.schema),
        "the Trainer's (models/trainer.py: make_dataset)": make_dataset(
            fn_args.train_files, tft_output, config.batch_size, True, config.seed).repeat(),
    }
    for name, dataset in readers.items():
        rate, cpu = input_cost(dataset, 30)
        print(f"| {name} | {rate:,.0f} | {cpu:.1f} |")


class _StepClock(tf.keras.callbacks.Callback):
    """The time at the end of every training step of one fit."""

    def on_train_begin(self, logs=None):
        self.ends: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


@dataclasses.dataclass
class Contender:
    name: str
    run_round: Callable[[int], list[float]]  # steps -> the end time of each
    rates: list[float] = dataclasses.field(default_factory=list)


def keras_contender(name: str, model: tf.keras.Model, dataset: tf.data.Dataset) -> Contender:
    """Keras fit on an endless dataset; each round a new fit (a new iterator, as each epoch is)."""
    clock = _StepClock()

    def run_round(steps: int) -> list[float]:
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[clock])
        return clock.ends

    return Contender(name, run_round)


def torch_contender(name: str, model: DCNv2, batches: list) -> Contender:
    def run_round(steps: int) -> list[float]:
        model.train()
        ends = []
        for i in range(steps):
            model.train_step(batches[i % len(batches)])
            ends.append(time.perf_counter())
        return ends

    return Contender(name, run_round)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--batches", type=int, default=24, help="steps per round, %d of them untimed" % SKIP)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inter-op-threads", type=int, default=0,
                        help="TensorFlow's inter-op thread pool (0: its default, one per core)")
    args = parser.parse_args()
    tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)
    if args.batches <= SKIP + 1:
        parser.error(f"--batches must be above {SKIP + 1}")
    transform = latest_run(args.run_dir)
    graph = transform.uri("Transform", "transform_graph")
    examples = transform.uri("Transform", "transformed_examples")

    # The Trainer's inputs and sized settings (the loss changes neither), and the same batches cached.
    fn_args = local_fn_args(graph, examples, tempfile.mkdtemp(), {"loss": "bce"})
    inputs = training_inputs(fn_args)
    config = inputs.config
    vocabulary = id_counts(inputs.tft_output, config.categorical_min_count, config.integer_buckets)
    cached = inputs.train.take(args.batches).cache()
    for _ in cached:  # fills the cache
        pass

    def product(loss: str, jit_compile: bool = False) -> tf.keras.Model:
        settings = dataclasses.replace(config, loss=loss)
        model = build_dcn_v2(settings, vocabulary)
        compile_model(model, settings)
        if jit_compile:
            model.jit_compile = True  # XLA-compiled train step
        return model

    contenders = []
    for loss in ("bce", "combined_pair"):
        for fed, dataset in (("the Trainer's tf.data input", inputs.train.repeat()), ("memory", cached.repeat())):
            contenders.append(keras_contender(f"product, {loss}, fed from {fed}", product(loss), dataset))
    contenders.append(keras_contender("product, bce, fed from memory, XLA (jit_compile)", product("bce", True),
                                      cached.repeat()))

    names = list(features.FEATURE_KEYS)
    batches = [batch_tensor({n: np.minimum(x[n].numpy(), vocabulary[n] - 1) for n in names}, y.numpy(), names)
               for x, y, _ in cached]
    torch.manual_seed(config.seed)
    peer = DCNv2(FeatureMap({n: vocabulary[n] for n in names}), config.embedding_dim, config.cross_layers,
                 config.dnn_units, config.dropout,
                 # FuxiCTR's L2 term is lambda/2 * |w|^2, Keras' lambda * |w|^2: the same objective.
                 embedding_regularizer=2 * config.embedding_l2, learning_rate=config.learning_rate)
    contenders.append(torch_contender("PyTorch peer (FuxiCTR layers), bce, fed from memory", peer, batches))

    batch = config.batch_size
    print(f"train split of {inputs.record['examples']:,} rows; batch {batch}; {args.rounds} rounds of "
          f"{args.batches} steps ({SKIP} untimed); TensorFlow {tf.__version__}, PyTorch {torch.__version__}, "
          f"{os.cpu_count()} cores; TensorFlow inter-op threads {args.inter_op_threads or 'default'}, "
          f"torch threads {torch.get_num_threads()}", flush=True)
    for contender in contenders:  # warm-up: tracing, first allocations
        contender.run_round(SKIP + 1)
    order = np.random.default_rng(0)
    for r in range(args.rounds):
        for i in order.permutation(len(contenders)):
            ends = contenders[i].run_round(args.batches)
            contenders[i].rates.append((len(ends) - SKIP) * batch / (ends[-1] - ends[SKIP - 1]))
        print(f"round {r + 1}: " + ", ".join(f"{c.rates[-1]:,.0f}" for c in contenders), flush=True)

    profiled = product("bce")  # fed from memory
    flops = matmul_flops_per_example(profiled)
    ceilings = matmul_ceiling()
    best_shape = max(ceilings, key=ceilings.get)
    ceiling = ceilings[best_shape] / flops
    peer_rate = max(contenders[-1].rates)
    print(f"\nmatmul FLOPs per example (forward + backward): {flops / 1e6:.2f} M; float32 matmul rates (GFLOP/s): "
          + ", ".join(f"{k} {v / 1e9:.0f}" for k, v in ceilings.items()))
    print(f"ceiling: {ceilings[best_shape] / 1e9:.0f} GFLOP/s ({best_shape}) / {flops / 1e6:.2f} MFLOP "
          f"= {ceiling:,.0f} examples/s\n")
    print("| trained | examples/s (best round) | rounds | vs PyTorch peer | of the ceiling |\n|---|---|---|---|---|")
    for c in contenders:
        best = max(c.rates)
        spread = ", ".join(f"{v:,.0f}" for v in c.rates)
        print(f"| {c.name} | {best:,.0f} | {spread} | {best / peer_rate:.2f}x | {best / ceiling:.0%} |")
    print(f"| matmul ceiling ({best_shape}: {ceilings[best_shape] / 1e9:.0f} GFLOP/s) | {ceiling:,.0f} | | "
          f"{ceiling / peer_rate:.2f}x | 100% |")
    product = max(contenders[0].rates)
    print(f"\ngoals for the product fed by the Trainer's input, BCE: >= {GOAL_PEER:.1f}x the peer "
          f"({'met' if product >= GOAL_PEER * peer_rate else 'not met'}: {product / peer_rate:.2f}x), "
          f">= {GOAL_CEILING:.0%} of the ceiling ({'met' if product >= GOAL_CEILING * ceiling else 'not met'}: "
          f"{product / ceiling:.0%})")
    print_profile(profiled, cached.repeat(), args.batches, fn_args, inputs.tft_output, config)


if __name__ == "__main__":
    main()
