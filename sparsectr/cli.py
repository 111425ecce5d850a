"""The `sparsectr` command line. Sub-commands are thin: they parse arguments
and call the module that does the work."""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shlex
import sys
import tempfile
from typing import Optional, Sequence

import models  # noqa: F401  (selects Keras 2 before TensorFlow loads: models/runtime.py)
from evaluation.thresholds import BlessingThresholds, ModelChecks
from models.hparams import SEQUENCE_FIELDS, ModelConfig
from pipeline.config import PipelineConfig
from sparsectr import flags
from sparsectr.progress import component_progress, quiet_environment

# PipelineConfig's flags of the commands that train: where to push, when to bless, what to show.
BLESSING_FIELDS = ("push_dir", *(f.name for f in dataclasses.fields(BlessingThresholds)),
                   *(f.name for f in dataclasses.fields(ModelChecks)), "min_slice_size")


def _write_json(path: Optional[str], payload) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(payload, f, indent=2, sort_keys=True)
            f.write("\n")


def _check_data_settings(args: argparse.Namespace) -> dict:
    given = flags.given(args, PipelineConfig)
    PipelineConfig(data="", output_dir="", **given)  # raises naming a bad value
    if args.beam_args is not None:
        given["beam_pipeline_args"] = args.beam_args
    return given


def _cmd_check_data(args: argparse.Namespace) -> int:
    quiet_environment(args.verbose)
    from sparsectr.check_data import CheckDataArgs, format_report, run_check_data

    with tempfile.TemporaryDirectory(prefix="sparsectr-check-") as tmp:
        with component_progress(args.verbose):
            reports = run_check_data(CheckDataArgs(paths=args.paths, workdir=args.workdir or tmp,
                                                   rejects_dir=args.rejects_dir, **_check_data_settings(args)))
    for report in reports:
        print(format_report(report))
    _write_json(args.json, reports if len(reports) > 1 else reports[0])
    return 0 if all(r["usable"] for r in reports) else 1


def _model_overrides(args: argparse.Namespace) -> dict:
    """ModelConfig settings given on the command line."""
    overrides = flags.given(args, ModelConfig)
    for name in SEQUENCE_FIELDS:  # "a,b,c" -> ("a", "b", "c"); ModelConfig coerces the elements
        if isinstance(overrides.get(name), str):
            overrides[name] = tuple(u for u in overrides[name].split(",") if u)
    return overrides


def _model_config(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig(**_model_overrides(args))


def _pipeline_overrides(args: argparse.Namespace) -> dict:
    """PipelineConfig fields given on the command line (the rest keep pipeline/config.py's defaults)."""
    overrides = flags.given(args, PipelineConfig)
    if getattr(args, "beam_args", None) is not None:
        overrides["beam_pipeline_args"] = args.beam_args
    return overrides


def _run_config(args: argparse.Namespace, data: str = "") -> PipelineConfig:
    """The settings of `run`; a bad value raises ValueError naming it (a usage error: main)."""
    return PipelineConfig(data=data, output_dir=args.output, model=_model_config(args), enable_cache=not args.no_cache,
                          **_pipeline_overrides(args))


def _cmd_run(args: argparse.Namespace) -> int:
    quiet_environment(args.verbose)
    from pipeline.output_lock import OutputBusyError, output_lock

    try:
        with output_lock(args.output):  # before the heavy imports: a second run refuses at once
            from sparsectr.run import default_dataset, format_summary, run

            data = args.data or default_dataset(args.output, progress=sys.stderr)
            # Keras prints its epoch lines to stdout: they go to stderr with the progress lines, so
            # that stdout holds the summary alone.
            with component_progress(args.verbose), contextlib.redirect_stdout(sys.stderr):
                summary = run(_run_config(args, data), runner=args.runner)
    except OutputBusyError as e:
        print(f"sparsectr run: {e}", file=sys.stderr)
        return 1
    print(format_summary(summary))
    _write_json(args.json, summary)
    return 0 if summary["ok"] else 1


def _cmd_compile_kfp(args: argparse.Namespace) -> int:
    quiet_environment(args.verbose)
    from pipeline.kubeflow import compile_kubeflow

    config = PipelineConfig(data=args.data, output_dir=args.output, model=_model_config(args),
                            **_pipeline_overrides(args))
    print(compile_kubeflow(config, args.out, image=args.image, beam_args=args.beam_args))
    return 0


def _cmd_run_kfp_local(args: argparse.Namespace) -> int:
    from pipeline.kfp_local import ContainerEngine, LocalKubeflowRun

    engine = ContainerEngine(args.engine, tuple(shlex.split(args.engine_flags)), tuple(shlex.split(args.run_flags)))
    run = LocalKubeflowRun(args.pipeline, args.pipeline_root, engine, image=args.image, mounts=tuple(args.mount),
                           progress=lambda line: print(line, file=sys.stderr))
    results = run.run(args.param)
    _write_json(args.json, {name: dataclasses.asdict(result) for name, result in results.items()})
    return 0


def _cmd_submit_kfp(args: argparse.Namespace) -> int:
    from pipeline import kfp_submit

    if args.vertex_project:
        submission = kfp_submit.submit_vertex(args.pipeline, args.vertex_project, args.region, args.param,
                                              args.pipeline_root)
    elif args.host:
        submission = kfp_submit.submit_kfp(args.pipeline, args.host, args.param, namespace=args.namespace,
                                           experiment=args.experiment, run_name=args.run_name,
                                           pipeline_root=args.pipeline_root)
    else:
        print("submit-kfp: give --host URL (Kubeflow Pipelines) or --vertex-project P (Vertex AI)", file=sys.stderr)
        return 2
    print(f"run {submission.run_id}: {submission.url}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from synthetic import generator

    result = generator.generate_to_path(
        rows=args.rows, positive_rate=args.positive_rate, seed=args.seed, out=args.out, shards=args.shards,
        gzip_output=args.gzip, with_truth=args.with_truth, workers=args.workers, progress=sys.stderr,
    )
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def _cmd_data_table(args: argparse.Namespace) -> int:
    from synthetic import data_table

    text = data_table.comparison_markdown(args.real, seed=args.seed)
    if args.out:
        data_table.replace_generated_section(args.out, text)
    else:
        print(text)
    return 0


def _cmd_plot_diagnostics(args: argparse.Namespace) -> int:
    from sparsectr import diagnostics_plots

    runs = []
    for item in args.runs:
        label, sep, path = item.partition("=")
        if not sep:
            label, path = os.path.basename(os.path.normpath(item)), item
        runs.append((label, diagnostics_plots.diagnostics_dir(path)))
    for path in diagnostics_plots.plot_runs(runs, args.out):
        print(path)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    quiet_environment(args.verbose)
    from sparsectr import report

    run = report.load_run(args.run_dir, args.min_slice_size or PipelineConfig.min_slice_size)
    print(report.format_report(run))
    for path in report.write_plots(run, args.out or os.path.join(args.run_dir, report.REPORT_DIR)):
        print(path)
    return 0


def _cmd_experiment(args: argparse.Namespace) -> int:
    quiet_environment(args.verbose)
    from sparsectr import experiment

    axes = {"losses": args.losses, "betas": args.betas, "alphas": args.alphas, "seeds": args.seeds,
            "positive_rates": args.positive_rates}
    given = {k: tuple(v.split(",")) for k, v in axes.items() if v}  # Grid converts the elements
    given.update({k: getattr(args, k) for k in ("rows", "data_seed") if getattr(args, k) is not None})
    if args.data:
        given["data"] = tuple(args.data)
    if args.beam_args is not None:
        given["beam_args"] = args.beam_args
    if args.grid:
        grid = experiment.Grid.from_file(args.grid, **given)
        grid = dataclasses.replace(grid, model={**grid.model, **_model_overrides(args)})
    else:
        grid = experiment.Grid(**given, model=_model_overrides(args))
    experiment.run_grid(grid, args.out, progress=sys.stderr, after_cell=args.after_cell)
    return _print_experiment_report(args.out, plots=not args.no_plots)


def _print_experiment_report(directory: str, plots: bool) -> int:
    """Writes an experiment directory's table, summary and plots; prints the summary and the files."""
    from sparsectr import experiment, experiment_report

    text, written = experiment_report.report(experiment.load_cells(directory), directory, plots=plots)
    print(text)
    for path in written:
        print(path, file=sys.stderr)
    return 0


def _cmd_experiment_report(args: argparse.Namespace) -> int:
    quiet_environment()
    return _print_experiment_report(args.dir, plots=not args.no_plots)


def _rows_to_score(args: argparse.Namespace):
    from sparsectr.scoring_io import read_rows_to_score

    return read_rows_to_score(args.data, args.input_format or PipelineConfig.input_format, args.strict,
                              warn=lambda line: print(line, file=sys.stderr))


def _cmd_predict(args: argparse.Namespace) -> int:
    read = _rows_to_score(args)
    from sparsectr.scoring_io import write_probabilities
    from sparsectr.serving import predict_probabilities

    write_probabilities(predict_probabilities(args.model, read.rows, args.batch_size), read, args.out)
    print(f"{len(read.rows)} rows scored by {args.model}", file=sys.stderr)
    return 0


def _cmd_serve_client(args: argparse.Namespace) -> int:
    from sparsectr import serving_client
    from sparsectr.scoring_io import write_probabilities

    read = _rows_to_score(args)
    probabilities = serving_client.predict(
        args.url, args.model_name, read.rows, args.batch_size, args.version,
        progress=lambda line: print(line, file=sys.stderr), timeout=args.timeout,
        retries=serving_client.Retries(args.retries, args.backoff))
    write_probabilities(probabilities, read, args.out)
    return 0


def _cmd_fit_profile(args: argparse.Namespace) -> int:
    from synthetic import profile

    fitted = profile.fit_profile(args.real)
    _write_json(args.out, fitted)
    return 0


def _add_model_flags(p: argparse.ArgumentParser, exclude: Sequence[str] = ()) -> None:
    flags.add_flags(p.add_argument_group("model (models/hparams.py: ModelConfig)"), ModelConfig, exclude=exclude)


def _add_format_flag(p: argparse.ArgumentParser) -> None:
    flags.add_flags(p, PipelineConfig, names=("input_format",))


def _add_beam_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--beam-args", type=lambda text: tuple(shlex.split(text)),
                   help="Beam pipeline args replacing the local DirectRunner defaults (pipeline/config.py: "
                        "LOCAL_BEAM_ARGS), e.g. --beam-args='--runner=FlinkRunner --flink_master=host:8081'")


def _add_blessing_flags(p: argparse.ArgumentParser) -> None:
    flags.add_flags(p, PipelineConfig, names=BLESSING_FIELDS)


def _add_rows_to_score_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="raw Criteo rows: TSV or CSV, gzip or not, with or without the "
                                                  "label column (ignored)")
    _add_format_flag(p)
    p.add_argument("--out", help="file for one probability per data line, nan for a line that could not be read "
                                 "(default: stdout)")
    p.add_argument("--strict", action="store_true", help="refuse a file with any bad line instead of scoring the rest")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparsectr", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the whole pipeline (LocalDagRunner) and print a summary")
    p.add_argument("--data", help="raw Criteo logs (file, directory, glob, {SPAN}; or a directory with "
                                  "train/ and eval/ [test/]); default: generate a synthetic dataset")
    p.add_argument("--output", default="outputs", help="pipeline root, metadata and pushed models (default outputs/)")
    _add_format_flag(p)
    p.add_argument("--runner", default="local", choices=("local", "beam"), help="LocalDagRunner or BeamDagRunner")
    flags.add_flags(p, PipelineConfig, names=("max_reject_fraction",))
    p.add_argument("--no-cache", action="store_true", help="re-run every component")
    _add_beam_flag(p)
    _add_blessing_flags(p)
    p.add_argument("--json", metavar="OUT", help="also write the summary as JSON")
    p.add_argument("--verbose", action="store_true", help="show TFX, Beam and Keras logs")
    _add_model_flags(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("experiment", help="run a grid of losses x beta x alpha x seeds through the pipeline and "
                                          "compare each loss with BCE (resumable)")
    p.add_argument("--out", required=True, help="experiment directory: cells, runs, results, summary, plots")
    p.add_argument("--grid", help="YAML or JSON file of grid settings (sparsectr/experiment.py: Grid); flags override it")
    p.add_argument("--losses", help="comma-separated loss names (default bce,combined_pair)")
    p.add_argument("--betas", help="comma-separated weights of positives (default 0.1)")
    p.add_argument("--alphas", help="comma-separated BCE weights, 'default' = each loss's tuned value (default)")
    p.add_argument("--seeds", help="comma-separated training seeds (default 0,1,2)")
    p.add_argument("--data", action="append", help="a user's Criteo logs, as `run --data` (repeat for more "
                                                  "datasets); default: generated data")
    p.add_argument("--rows", type=int, help="generated rows per dataset, 80/10/10 train/eval/test (default 100000)")
    p.add_argument("--positive-rates", help="comma-separated positive rates of generated datasets (default 0.25)")
    p.add_argument("--data-seed", type=int, help="seed of the generated rows (default 0)")
    _add_beam_flag(p)
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--after-cell", metavar="COMMAND", help="a shell command run after each finished cell, with "
                   "SPARSECTR_CELL set to its file (scripts/run_experiments.sh commits each cell with it)")
    p.add_argument("--verbose", action="store_true", help="show library warnings")
    _add_model_flags(p, exclude=("loss", "alpha", "beta", "seed"))
    p.set_defaults(func=_cmd_experiment)

    p = sub.add_parser("experiment-report", help="results table, paired comparisons, verdicts and plots of an "
                                                 "experiment directory")
    p.add_argument("dir", metavar="DIR", help="the --out directory of `sparsectr experiment`")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=_cmd_experiment_report)

    p = sub.add_parser("compile-kfp", help="compile the pipeline for Kubeflow Pipelines (KubeflowV2DagRunner); "
                                          "data, push location, loss, alpha, beta, epochs, seed and blessing "
                                          "thresholds become run parameters with these values as defaults")
    p.add_argument("--out", default="pipeline.json")
    p.add_argument("--data", default="gs://YOUR_BUCKET/criteo/day_{SPAN}.gz",
                   help="raw logs; its directory is the data_root run parameter, the file pattern is fixed")
    p.add_argument("--output", default="gs://YOUR_BUCKET/sparsectr", help="pipeline root is OUTPUT/pipeline_root")
    p.add_argument("--image", default="sparsectr:latest", help="container image built by scripts/build_image.sh")
    p.add_argument("--verbose", action="store_true")
    _add_beam_flag(p)
    _add_blessing_flags(p)
    _add_model_flags(p)
    p.set_defaults(func=_cmd_compile_kfp)

    param = dict(action="append", default=[], metavar="NAME=VALUE",
                 help="a run parameter of the compiled pipeline (repeat; see its inputDefinitions)")
    p = sub.add_parser("run-kfp-local", help="run every task of a compiled pipeline in its container on this "
                                            "machine, as KFP's launcher would (no cluster)")
    p.add_argument("--pipeline", default="pipeline.json", help="compile-kfp's output")
    p.add_argument("--pipeline-root", required=True, help="local directory for the artifacts (mounted at the same path)")
    p.add_argument("--image", help="run every task in this image (default: the compiled one)")
    p.add_argument("--mount", action="append", default=[], metavar="DIR",
                   help="a host directory the tasks read (the data), mounted read-only at the same path (repeat)")
    p.add_argument("--param", **param)
    p.add_argument("--engine", default="podman", help="container engine (podman or docker)")
    p.add_argument("--engine-flags", default="", help="flags before `run`, e.g. '--runtime runc'")
    p.add_argument("--run-flags", default="", help="flags of `run`, e.g. '--network host --ulimit nofile=1024:1024'")
    p.add_argument("--json", metavar="OUT", help="also write each task's outputs and time as JSON")
    p.set_defaults(func=_cmd_run_kfp_local)

    p = sub.add_parser("submit-kfp", help="upload a compiled pipeline to Kubeflow Pipelines (or Vertex AI) and "
                                         "start a run; prints its URL")
    p.add_argument("--pipeline", default="pipeline.json", help="compile-kfp's output")
    p.add_argument("--host", help="the KFP API endpoint, e.g. http://localhost:8080 (port-forwarded ml-pipeline-ui)")
    p.add_argument("--namespace", help="Kubeflow profile namespace (multi-user deployments)")
    p.add_argument("--experiment", default="sparsectr")
    p.add_argument("--run-name", help="default: <pipeline name>-<time>")
    p.add_argument("--pipeline-root", help="where the run's artifacts go (default: the compiled one on Vertex, "
                                           "the cluster's on KFP)")
    p.add_argument("--vertex-project", help="submit to Vertex AI Pipelines in this project instead")
    p.add_argument("--region", default="us-central1", help="Vertex AI region")
    p.add_argument("--param", **param)
    p.set_defaults(func=_cmd_submit_kfp)

    p = sub.add_parser("check-data", help="ingest and validate raw Criteo logs; exit 0 when usable")
    p.add_argument("paths", nargs="+", metavar="PATH", help="file, directory or glob (may hold {SPAN})")
    _add_format_flag(p)
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON")
    p.add_argument("--workdir", help="pipeline root and SQLite metadata (default: a temporary directory)")
    p.add_argument("--rejects-dir", default="sparsectr-rejects",
                   help="where the rejected lines are copied when there are any, one folder per input "
                        "(default ./sparsectr-rejects)")
    flags.add_flags(p, PipelineConfig, names=("max_reject_fraction",))
    _add_beam_flag(p)
    p.add_argument("--verbose", action="store_true", help="show TFX and Beam logs")
    p.set_defaults(func=_cmd_check_data)

    p = sub.add_parser("generate", help="write synthetic raw Criteo TSV with a hidden click model")
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--positive-rate", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="a file (one shard) or a directory (several shards)")
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--gzip", action="store_true")
    p.add_argument("--with-truth", action="store_true",
                   help="also write each row's true click probability to OUT.truth")
    p.add_argument("--workers", type=int, default=0, help="processes (default: one per core)")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("fit-profile", help="fit the generator's column profile to real rows")
    p.add_argument("--real", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_fit_profile)

    p = sub.add_parser("data-table", help="real vs synthetic statistics per column, as Markdown")
    p.add_argument("--real", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="Markdown file whose generated section is replaced")
    p.set_defaults(func=_cmd_data_table)

    p = sub.add_parser("plot-diagnostics", help="PNG plots of gradient diagnostics of one or more runs")
    p.add_argument("runs", nargs="+", metavar="[LABEL=]DIR",
                   help="a Trainer run's diagnostics/ directory, or a directory with one below it")
    p.add_argument("--out", required=True, help="directory for the PNG files")
    p.set_defaults(func=_cmd_plot_diagnostics)

    p = sub.add_parser("report", help="evaluation table (overall, per sparsity bucket, per slice) and PNG plots")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the --output directory of `sparsectr run`")
    p.add_argument("--out", help="directory for the PNG files (default RUN_DIR/report)")
    flags.add_flags(p, PipelineConfig, names=("min_slice_size",))
    p.add_argument("--verbose", action="store_true", help="show library warnings")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("predict", help="click probabilities of raw Criteo rows from a SavedModel, in process")
    p.add_argument("--model", required=True, help="a pushed model version directory (serving_default signature)")
    _add_rows_to_score_flags(p)
    p.add_argument("--batch-size", type=flags.positive(int), default=4096)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("serve-client", help="send raw Criteo rows to a running TF Serving (REST or gRPC)")
    p.add_argument("--url", required=True, help="http://HOST:8501 for REST, HOST:8500 or grpc://HOST:8500 for gRPC")
    _add_rows_to_score_flags(p)
    p.add_argument("--model-name", default="sparsectr", help="the model name TF Serving serves (default sparsectr)")
    p.add_argument("--version", type=int, help="a model version (default: the latest TF Serving loaded)")
    p.add_argument("--batch-size", type=flags.positive(int), default=256)
    p.add_argument("--timeout", type=flags.positive(float), default=30.0, help="seconds per request (default 30)")
    p.add_argument("--retries", type=flags.at_least_zero(int), default=3,
                   help="times a batch is sent again after a 5xx answer, a lost connection or a timeout (default 3)")
    p.add_argument("--backoff", type=flags.at_least_zero(float), default=1.0,
                   help="seconds before the first retry, doubled for each next one (default 1)")
    p.set_defaults(func=_cmd_serve_client)
    for subparser in sub.choices.values():  # main() reports a bad setting with the command's usage
        subparser.set_defaults(parser=subparser)
    return parser


def _check_settings(args: argparse.Namespace) -> None:
    """Builds the settings a command will use, so that a value out of its range is a usage error
    before anything is imported, generated or run."""
    if args.command == "run":
        _run_config(args)
    elif args.command == "compile-kfp":
        PipelineConfig(data="", output_dir=args.output, model=_model_config(args), **_pipeline_overrides(args))
    elif args.command == "experiment":
        _model_config(args)
    elif args.command == "check-data":
        _check_data_settings(args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_settings(args)
    except (TypeError, ValueError) as e:
        args.parser.error(str(e))  # exit 2, with the command's usage
    from models.criteo_rows import CorruptFileError, HeaderError
    from sparsectr.scoring_io import ScoringInputError

    try:
        return args.func(args)
    except (ScoringInputError, CorruptFileError, HeaderError) as e:
        print(f"sparsectr {args.command}: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        from sparsectr.serving_client import ServingError

        if not isinstance(e, ServingError):
            raise
        print(f"sparsectr {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
