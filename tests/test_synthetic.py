"""The synthetic Criteo generator: format, determinism, calibration, fidelity,
and a hidden click model whose crosses matter."""
from __future__ import annotations

import dataclasses
import gzip

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from benchmarks import baselines
from models import features
from models.criteo_rows import STANDARD_TSV, decode_line, parse_line
from sparsectr import cli
from synthetic import generator
from synthetic.profile import column_statistics, read_rows


def _lines(path) -> list[bytes]:
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.splitlines()


def test_output_is_deterministic_and_independent_of_shards_and_workers(tmp_path):
    assert cli.main(["generate", "--rows", "120000", "--positive-rate", "0.03", "--seed", "7",
                     "--out", str(tmp_path / "one.tsv"), "--workers", "2", "--with-truth"]) == 0
    generator.generate_to_path(120_000, 0.03, 7, str(tmp_path / "again.tsv"), workers=1, with_truth=True)
    result = generator.generate_to_path(120_000, 0.03, 7, str(tmp_path / "parts"), shards=3, gzip_output=True,
                                        with_truth=True)
    one = (tmp_path / "one.tsv").read_bytes()
    assert one == (tmp_path / "again.tsv").read_bytes()
    assert (tmp_path / "_one.tsv.truth").read_bytes() == (tmp_path / "_again.tsv.truth").read_bytes()
    parts = [p for p in result["files"]]
    assert [p.split("/")[-1] for p in parts] == [f"part-0000{i}-of-00003.tsv.gz" for i in range(3)]
    assert b"".join(gzip.decompress(open(p, "rb").read()) for p in parts) == one
    truth = np.concatenate([generator.read_truth(t) for t in result["truth_files"]])
    np.testing.assert_array_equal(truth, generator.read_truth(str(tmp_path / "_one.tsv.truth")))
    other = generator.generate_to_path(1_000, 0.03, 8, str(tmp_path / "other.tsv"))
    assert (tmp_path / "other.tsv").read_bytes() != one[: len((tmp_path / "other.tsv").read_bytes())]
    assert other["rows"] == 1_000


def test_rows_are_raw_criteo_lines_the_ingestion_reads_without_rejects(tmp_path):
    generator.generate_to_path(5_000, 0.25, 1, str(tmp_path / "d.tsv"))
    lines = _lines(tmp_path / "d.tsv")
    assert len(lines) == 5_000
    rows = [parse_line(decode_line(line), STANDARD_TSV) for line in lines]  # raises on any bad row
    assert all(len(line.split(b"\t")) == 40 for line in lines)
    values = [r["C3"] for r in rows if "C3" in r]
    assert all(len(v) == 8 and int(v, 16) >= 0 for v in values)
    assert any("I1" not in r for r in rows), "missing integers must be written as empty fields"
    assert min(r["I2"] for r in rows if "I2" in r) < 0, "I2 has negative values in real data"


@pytest.mark.parametrize("rate", [0.25, 0.03, 0.005])
def test_positive_rate_is_calibrated(tmp_path, rate):
    result = generator.generate_to_path(100_000, rate, 3, str(tmp_path / "d.tsv"), with_truth=True)
    sigma = (rate * (1 - rate) / 100_000) ** 0.5
    assert abs(result["positive_rate"] - rate) < 5 * sigma + 0.05 * rate
    truth = generator.read_truth(result["truth_files"][0])
    assert len(truth) == 100_000 and 0 < truth.min() and truth.max() < 1
    assert abs(truth.mean() - rate) < 0.05 * rate
    labels = np.array([int(line[:1]) for line in _lines(tmp_path / "d.tsv")])
    assert labels.sum() == result["positives"]


def test_column_statistics_resemble_the_real_kaggle_rows(criteo_dir, tmp_path):
    real_rows = read_rows(str(criteo_dir / "kaggle_train_head10k.tsv"))
    real = column_statistics(real_rows)
    generator.generate_to_path(len(real_rows), real["label"]["positive_rate"], 0, str(tmp_path / "s.tsv"))
    synth = column_statistics(read_rows(str(tmp_path / "s.tsv")))
    for name in features.FEATURE_KEYS:
        assert abs(real[name]["missing"] - synth[name]["missing"]) < 0.02, name
    for name in features.INTEGER_FEATURE_KEYS:
        for key in ("median", "p90"):
            assert abs(real[name][key] - synth[name][key]) <= 0.2 * abs(real[name][key]) + 1, (name, key)
        assert abs(real[name]["negative"] - synth[name]["negative"]) < 0.01, name
    for name in features.CATEGORICAL_FEATURE_KEYS:
        assert abs(real[name]["distinct"] - synth[name]["distinct"]) <= 0.1 * real[name]["distinct"] + 2, name
        assert abs(real[name]["top_share"] - synth[name]["top_share"]) < 0.03, name


def _rows(columns, labels) -> list[dict]:
    text = generator.format_tsv(columns, labels)
    return [parse_line(decode_line(line), STANDARD_TSV) for line in text.splitlines()]


@pytest.mark.slow
def test_crosses_matter_main_effects_regression_falls_short_of_the_truth():
    """Fixed seed. A main-effects logistic regression scores a clearly lower AUC
    than the true probabilities; given the hidden cross pairs it gains; and in a
    world without crosses the same cross features gain nothing (control)."""
    n_train, n_test = 40_000, 20_000
    results = {}
    for world, model in (("crosses", generator.ClickModel()),
                         ("no_crosses", dataclasses.replace(generator.ClickModel(), cross_effect=0.0))):
        bias = generator.calibrated_bias(0.25, model)
        columns, p, labels = generator.generate_chunk(11, 0, n_train + n_test, bias, model)
        rows = _rows(columns, labels)
        train, test, y = rows[:n_train], rows[n_train:], labels[n_train:]
        main = baselines.fit_predict_logistic(train, test)
        crossed = baselines.fit_predict_logistic(train, test, cross_pairs=model.cross_pairs)
        results[world] = {"truth": roc_auc_score(y, p[n_train:]), "main": roc_auc_score(y, main),
                          "main+crosses": roc_auc_score(y, crossed)}
    with_crosses, without = results["crosses"], results["no_crosses"]
    print(results)
    assert with_crosses["truth"] - with_crosses["main"] > 0.06
    assert with_crosses["main+crosses"] - with_crosses["main"] > 0.015
    assert without["main+crosses"] - without["main"] < 0.005
    # The gap that crosses open is much larger than the finite-sample gap of a world without them.
    assert (with_crosses["truth"] - with_crosses["main"]) > (without["truth"] - without["main"]) + 0.02


def test_an_interrupted_generation_leaves_no_file_a_later_run_would_reuse(tmp_path, monkeypatch):
    real_task = generator._run_task
    calls = []

    def interrupted_after_one_chunk(job):
        calls.append(job)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real_task(job)

    monkeypatch.setattr(generator, "_run_task", interrupted_after_one_chunk)
    out = tmp_path / "d.tsv"
    with pytest.raises(KeyboardInterrupt):
        generator.generate_to_path(120_000, 0.03, 0, str(out), workers=1, with_truth=True)
    assert len(calls) == 2  # the first chunk was written to disk before the interruption
    assert sorted(p.name for p in tmp_path.iterdir()) == []

    monkeypatch.setattr(generator, "_run_task", real_task)
    result = generator.generate_to_path(120_000, 0.03, 0, str(out), workers=1, with_truth=True)
    assert result["rows"] == 120_000 and len(_lines(out)) == 120_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_d.tsv.truth", "d.tsv"]
