"""Packaging for spyketorch."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="spyketorch",
    # the one version number: spyketorch.__version__
    version=re.search(r'__version__ = "([^"]+)"', (HERE / "spyketorch" / "__init__.py").read_text()).group(1),
    description="Convolutional spiking neural networks with STDP in PyTorch: batched, device-agnostic neuron layers.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["spyketorch", "spyketorch.*"]),
    package_data={"spyketorch": ["data/*", "_latency_native.c"]},
    include_package_data=True,
    python_requires=">=3.9",
    install_requires=[
        "torch>=2.1",
        "torchvision>=0.16",
        "numpy>=1.22",
        "matplotlib>=3.5",
        "tqdm>=4.60",
    ],
    extras_require={
        "nir": ["nir>=1.0"],
        # the documentation site: python -m sphinx -W -b html docs docs/_build/html
        "docs": ["sphinx>=7", "furo", "myst-parser>=2"],
        # nir for spyketorch.to_nir/from_nir; norse and snntorch to test the round trips through
        # them; tonic to test event frames against tonic's own
        "dev": ["pytest>=7", "scipy>=1.8", "hypothesis>=6", "mutmut>=3.3", "tonic>=1.4",
                "nir>=1.0", "norse>=1.1", "snntorch>=1.0"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
