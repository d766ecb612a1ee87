"""Shared fixtures: an offline Whisper cache, a random-weight tiny-shaped checkpoint."""

import dataclasses
import os
import tempfile

import pytest
import torch
from whisper.model import ModelDimensions, Whisper

# Tests never download weights and never see a developer's real cache.
os.environ["MUSEVIZ_OFFLINE"] = "1"
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="museviz-test-cache-")
os.environ.pop("MUSEVIZ_WHISPER_CHECKPOINT", None)

TINY_ENCODER = dict(n_mels=80, n_audio_ctx=1500, n_audio_state=384, n_audio_head=6, n_audio_layer=4)
SMALL_DECODER = dict(n_vocab=512, n_text_ctx=32, n_text_state=384, n_text_head=6, n_text_layer=1)


@pytest.fixture(scope="session")
def whisper_checkpoint(tmp_path_factory) -> str:
    """A checkpoint in openai-whisper's own format: whisper-tiny's encoder, random weights.

    The text decoder is shrunk to keep the file small; museviz never runs it.
    """
    torch.manual_seed(1234)
    dims = ModelDimensions(**TINY_ENCODER, **SMALL_DECODER)
    path = tmp_path_factory.mktemp("whisper") / "tiny-random.pt"
    torch.save({"dims": dataclasses.asdict(dims), "model_state_dict": Whisper(dims).state_dict()}, path)
    return str(path)
