"""The synthetic Criteo-like data: the generator with its hidden click model (generator.py), the
column profile it samples from, fitted to real rows (profile.py), the real-vs-synthetic table
(data_table.py), and metrics against the generator's true click probabilities (truth_metrics.py)."""
