"""Shared fixtures: an offline Whisper cache, a random-weight tiny-shaped checkpoint, a
random-weight SyncNet checkpoint in the published format."""

import dataclasses
import os
import tempfile

import numpy as np
import pytest
import torch
from whisper.model import ModelDimensions, Whisper

# Every temporary file of the session goes under one folder, checked empty at the end.
TEMP_ROOT = tempfile.mkdtemp(prefix="museviz-tests-")
os.environ["TMPDIR"] = tempfile.tempdir = TEMP_ROOT
# Tests never download weights and never see a developer's real cache.
os.environ["MUSEVIZ_OFFLINE"] = "1"
os.environ["XDG_CACHE_HOME"] = os.path.join(TEMP_ROOT, "cache")
os.environ.pop("MUSEVIZ_WHISPER_CHECKPOINT", None)
os.environ.pop("MUSEVIZ_SYNCNET_CHECKPOINT", None)
NOT_OURS = ("pytest-of-", "pymp-", "cache", "pulse-")  # pytest's tmp_path, multiprocessing's, the Whisper cache, Chromium's PulseAudio client

TINY_ENCODER = dict(n_mels=80, n_audio_ctx=1500, n_audio_state=384, n_audio_head=6, n_audio_layer=4)
SMALL_DECODER = dict(n_vocab=512, n_text_ctx=32, n_text_state=384, n_text_head=6, n_text_layer=1)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """After the whole suite, museviz has left no temporary file: every per-request folder
    and half-written output was removed."""
    yield
    left = sorted(name for name in os.listdir(TEMP_ROOT) if not name.startswith(NOT_OURS))
    work = os.path.join(TEMP_ROOT, "museviz-work")
    left += [f"museviz-work/{name}" for name in os.listdir(work)] if os.path.isdir(work) else []
    assert left in ([], ["museviz-work"]), f"temporary files left behind: {left}"


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


@pytest.fixture(scope="session")
def syncnet_checkpoint(tmp_path_factory) -> str:
    """SyncNet weights in the published ``syncnet_v2.model`` format (a ``torch.save``d state
    dict), random, with non-trivial BatchNorm statistics."""
    from museviz.syncnet import SyncNet

    torch.manual_seed(0)
    model = SyncNet()
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("syncnet") / "syncnet_random.model"
    torch.save(model.state_dict(), path)
    return str(path)


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    """About 6 s of real speech (espeak-ng) at 16 kHz."""
    from museviz.synth import speech_16k

    return speech_16k("The quick brown fox jumps over the lazy dog. Lips move with every sound we make, and the audio must follow.")


@pytest.fixture(scope="session")
def clips(tmp_path_factory, speech):
    """Write a synthetic clip once per session: ``clips(name, **ClipSpec fields) -> path``."""
    from museviz.synth import ClipSpec, write_clip

    folder = tmp_path_factory.mktemp("clips")
    made: dict[str, tuple[list, str]] = {}

    def make(name: str, **fields) -> str:
        fields.setdefault("audio", speech)
        fields.setdefault("size", (160, 120))
        spec = ClipSpec(**fields)
        key = [v.tobytes() if isinstance(v, np.ndarray) else v for v in (getattr(spec, f.name) for f in dataclasses.fields(spec))]
        if name not in made:
            made[name] = key, str(write_clip(folder / name, spec))
        elif made[name][0] != key:
            raise AssertionError(f"clips({name!r}) was made before with other fields: give this clip another name")
        return made[name][1]

    return make
