"""Component constructors and the data-path handling of the pipeline config."""
import pytest
from google.protobuf import json_format
from tfx.proto import example_gen_pb2

from components.criteo_example_gen.component import CriteoExampleGen
from components.criteo_example_gen.spec import REJECTS_KEY, CriteoRejects
from pipeline.config import PipelineConfig, input_location
from pipeline.pipeline import create_data_pipeline


def test_example_gen_has_examples_and_rejects_outputs_and_its_parameters():
    component = CriteoExampleGen(input_base="/data", input_format="csv", max_reject_fraction=0.01)
    assert set(component.outputs) == {"examples", REJECTS_KEY}
    assert component.outputs[REJECTS_KEY].type == CriteoRejects
    assert component.exec_properties["input_format"] == "csv"
    assert component.exec_properties["max_reject_fraction"] == 0.01
    assert component.exec_properties["output_data_format"] == example_gen_pb2.FORMAT_TF_EXAMPLE


@pytest.mark.parametrize("kwargs,message", [({"input_format": "parquet"}, "input_format"),
                                            ({"max_reject_fraction": 2.0}, "max_reject_fraction")])
def test_example_gen_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CriteoExampleGen(input_base="/data", **kwargs)


def test_input_location_of_file_directory_glob_and_span(tmp_path):
    (tmp_path / "day_0.tsv").write_text("")
    assert input_location(str(tmp_path / "day_0.tsv")) == (str(tmp_path), "day_0.tsv")
    assert input_location(str(tmp_path)) == (str(tmp_path), "*")
    assert input_location(str(tmp_path / "day_*.tsv")) == (str(tmp_path), "day_*.tsv")
    assert input_location(str(tmp_path / "logs" / "day_{SPAN}" / "*.gz")) == (
        str(tmp_path / "logs"), "day_{SPAN}/*.gz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        input_location(str(tmp_path / "missing.tsv"))


def test_config_validates_and_the_dag_is_wired(tmp_path):
    with pytest.raises(ValueError, match="split_ratios"):
        PipelineConfig(data=str(tmp_path), output_dir=str(tmp_path), split_ratios=(8, 2))
    with pytest.raises(ValueError, match="input_format"):
        PipelineConfig(data=str(tmp_path), output_dir=str(tmp_path), input_format="xml")
    config = PipelineConfig(data=str(tmp_path), output_dir=str(tmp_path / "out"), split_ratios=(6, 2, 2))
    pipeline = create_data_pipeline(config)
    by_id = {c.id: c for c in pipeline.components}
    assert set(by_id) == {"CriteoExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "ValidationGate"}
    assert by_id["ValidationGate"].upstream_nodes == {by_id["ExampleValidator"], by_id["StatisticsGen"]}
    output_config = example_gen_pb2.Output()
    json_format.Parse(by_id["CriteoExampleGen"].exec_properties["output_config"], output_config)
    split_config = output_config.split_config
    assert [(s.name, s.hash_buckets) for s in split_config.splits] == [("train", 6), ("eval", 2), ("test", 2)]


def test_comma_separated_flags_become_typed_model_settings():
    from sparsectr.cli import _model_config, build_parser

    args = build_parser().parse_args(["compile-kfp", "--dnn-units", "64,32", "--sparsity-key", "C2,C17",
                                      "--sparsity-boundaries", "0.01,0.1", "--slice-features", "C17,I3"])
    config = _model_config(args)
    assert (config.dnn_units, config.sparsity_key, config.sparsity_boundaries, config.slice_features) == (
        (64, 32), ("C2", "C17"), (0.01, 0.1), ("C17", "I3"))
    assert config.to_dict()["sparsity_boundaries"] == [0.01, 0.1]
    with pytest.raises(ValueError, match="sparsity_boundaries: expected a sequence of float"):
        _model_config(build_parser().parse_args(["compile-kfp", "--sparsity-boundaries", "0.01,high"]))
