"""The experiment grid: its cells, keys, settings checks and grid files."""
from __future__ import annotations

import os

import dataclasses
import json

import pytest

from sparsectr.experiment import Grid, cell_key, cell_model, check_settings


def test_cells_cross_the_axes_and_a_loss_without_auxiliary_term_gets_one_alpha():
    grid = Grid(losses=("bce", "combined_pair", "focal"), betas=(0.1, 1.0), alphas=("default", 0.5), seeds=(0, 1))
    cells = grid.cells()
    # per beta and seed: bce once, combined_pair at both alphas, focal once
    assert len(cells) == 2 * 2 * 4
    assert {(c["loss"], c["alpha"]) for c in cells} == {("bce", None), ("focal", None), ("combined_pair", None),
                                                      ("combined_pair", 0.5)}
    assert cell_model(grid, cells[1]).effective_alpha == 0.7  # combined_pair's default at beta 0.1


def test_keys_are_unique_and_change_with_any_training_setting():
    grid = Grid(losses=("bce", "combined_pair"), seeds=(0, 1))
    keys = [cell_key(grid, c) for c in grid.cells()]
    assert len(set(keys)) == 4
    other = dataclasses.replace(grid, model={"batch_size": 512})
    assert not set(keys) & {cell_key(other, c) for c in other.cells()}
    assert keys == [cell_key(Grid(losses=("bce", "combined_pair"), seeds=(0, 1)), c) for c in grid.cells()]


def test_axes_are_not_model_settings_and_bad_settings_fail_before_running():
    with pytest.raises(ValueError, match=r"model: \['loss'\] are grid axes"):
        Grid(model={"loss": "bce"})
    with pytest.raises(ValueError, match="unknown model settings"):
        Grid(model={"batch": 5})
    with pytest.raises(ValueError, match="loss: unknown 'pairwise'"):
        Grid(losses=("pairwise",))


def test_a_directory_refuses_other_shared_settings(tmp_path):
    check_settings(str(tmp_path), Grid(model={"epochs": 2}))
    check_settings(str(tmp_path), Grid(model={"epochs": 2}, seeds=(5, 6), losses=("rcr",)))  # axes may grow
    with pytest.raises(ValueError, match=r"experiment\.json: this directory holds an experiment with other"):
        check_settings(str(tmp_path), Grid(model={"epochs": 3}))


def test_grid_files_in_yaml_or_json_and_their_errors(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("losses: [bce, rcr]\nbetas: [0.1, 0.4]\nmodel: {batch_size: 512}\n")
    grid = Grid.from_file(str(path), seeds=(3,))
    assert grid.losses == ("bce", "rcr") and grid.betas == (0.1, 0.4) and grid.seeds == (3,)
    assert grid.model == {"batch_size": 512}
    (tmp_path / "grid.json").write_text(json.dumps({"loses": ["bce"]}))
    with pytest.raises(ValueError, match=r"grid\.json: unknown grid settings \['loses'\]"):
        Grid.from_file(str(tmp_path / "grid.json"))


def test_the_shipped_grid_files_parse():
    for name in ("generated", "criteo_samples"):
        grid = Grid.from_file(f"docs/experiments/{name}.yaml")
        assert grid.model["diagnostics"] is True


def test_cells_record_the_code_they_ran_on_and_the_after_cell_command_runs(tmp_path, monkeypatch):
    """run_grid with the pipeline replaced by a stand-in: each cell file carries the commit and the
    uncommitted code changes git reports, and --after-cell sees the finished cell's file; a failing
    command is reported, not raised."""
    import io
    import subprocess

    from sparsectr import experiment

    monkeypatch.setattr(experiment, "run_cell", lambda grid, cell, data, truth, out, log: {
        **cell, "auc": 0.7, "weighted_logloss": 0.1, "best_epoch": 1, "epochs": 1, "cell_seconds": 0.0})
    grid = experiment.Grid(losses=("bce",), seeds=(0, 1), data=(str(tmp_path / "rows.tsv"),))
    seen = tmp_path / "seen.txt"
    progress = io.StringIO()
    cells = experiment.run_grid(grid, str(tmp_path / "exp"), progress,
                                after_cell=f'echo "$SPARSECTR_CELL" >> {seen}; exit 3')
    head = subprocess.run(["git", "-C", experiment.PROJECT, "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert [c["code"]["commit"] for c in cells] == [head, head]
    assert all(isinstance(c["code"]["uncommitted"], list) for c in cells)
    assert seen.read_text().splitlines() == sorted(
        str(p) for p in (tmp_path / "exp" / experiment.CELLS_DIR).glob("*.json"))
    assert progress.getvalue().count("--after-cell command failed (exit 3)") == 2


def test_outside_a_git_checkout_the_code_version_is_empty(tmp_path):
    from sparsectr.experiment import code_version

    assert code_version(str(tmp_path)) == {}


def test_a_dataset_inside_the_project_has_the_same_name_in_any_checkout(tmp_path, monkeypatch):
    from sparsectr import experiment

    inside = os.path.join(experiment.PROJECT, "tests", "data", "criteo", "kaggle_train_head10k.tsv.gz")
    name = experiment.dataset_name(inside)
    monkeypatch.setattr(experiment, "PROJECT", str(tmp_path / "another-clone"))
    assert experiment.dataset_name(str(tmp_path / "another-clone" / "tests" / "data" / "criteo"
                                       / "kaggle_train_head10k.tsv.gz")) == name
    assert name.startswith("kaggle_train_head10k-")
    assert experiment.dataset_name(str(tmp_path / "elsewhere" / "kaggle_train_head10k.tsv.gz")) != name
