"""Where ai-svc's local model files are: ai-svc loads them, `genfleet doctor` checks the
default one is there, scripts/setup.sh prepares it (`python -m ai_svc.modelprep`)."""

from __future__ import annotations

from pathlib import Path

from genfleet_common.settings import Settings

# SmolLM2-135M-Instruct with the one header value GPT4All refuses patched (ai_svc.modelprep).
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# <repo>/libs/common/src/genfleet_common/localmodel.py -> <repo>/.tools/models
PROJECT_MODELS = Path(__file__).resolve().parents[4] / ".tools" / "models"


def models_dir(settings: Settings) -> Path:
    """The folder of .gguf files: the setting ai_models_dir, else the project's own."""
    return Path(settings.ai_models_dir) if settings.ai_models_dir else PROJECT_MODELS


def model_file(settings: Settings) -> Path:
    """The gpt4all model file analyses use when a request names none."""
    return models_dir(settings) / (settings.ai_model or DEFAULT_MODEL_FILE)
