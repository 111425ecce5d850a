"""Packaging of the sparsectr pipeline. Install with the pinned set:
    pip install --ignore-requires-python --prefer-binary -c constraints.txt -e .[dev]
"""
from setuptools import find_packages, setup

setup(
    name="sparsectr",
    version="0.1.0",
    description="TFX pipeline for CTR prediction with auxiliary ranking losses under sparse feedback",
    python_requires=">=3.9",
    packages=find_packages(include=["sparsectr*", "components*", "models*", "evaluation*", "synthetic*", "pipeline*"]),
    package_data={"synthetic": ["*.json"]},
    install_requires=[
        "tfx[kfp]==1.16.0",
        "tensorflow-recommenders",
        "scikit-learn",
        "matplotlib",
    ],
    extras_require={
        "dev": ["pytest", "pytest-xdist"],
        # benchmarks/trainer_vs_peers.py's peer: the paper's DCN-V2 in PyTorch on FuxiCTR's layers.
        "bench": ["torch", "fuxictr"],
    },
    entry_points={"console_scripts": ["sparsectr=sparsectr.cli:main"]},
)
