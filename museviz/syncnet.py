"""SyncNet's LSE-C and LSE-D, the lip-sync numbers papers report, computed as the field does.

The chain (``/work/shared/LSE.md``; syncnet_python's ``evaluate``, which Wav2Lip and
LatentSync copy): 224 x 224 BGR crops at 25 fps and 16 kHz int16 audio; MFCCs by
``python_speech_features.mfcc`` with its defaults on the raw int16 samples (c0 is the log
energy, so the scale matters), 100 per second, 4 per video frame. With
``L = min(T, len(audio) // 640)`` there are ``N = L - 5`` windows: window k is frames
k..k+4 and MFCC columns 4k..4k+19. SyncNet embeds each window's video and audio (1024
values each, no normalisation); ``d[k, j] = ||v_k - a_(k+j-15) + 1e-6||`` for the 31 shifts
j, with the audio embeddings zero-padded by 15 at each end (the padded pairs count in the
mean); ``D[j]`` is the mean over k. Then

- LSE-D = min D, LSE-C = median D - min D (31 values: the 16th smallest is the median),
- offset = 15 - argmin D: positive when the audio leads the video.

The network is syncnet_python's ``S`` (same layers, same state-dict keys), loaded from a
``torch.save``d state dict such as the published ``syncnet_v2.model``, with
``weights_only=True`` so that no pickled code runs.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from museviz.errors import MusevizError
from museviz.grid import SAMPLE_RATE, SYNCNET_CROP_PX, SYNCNET_FPS
from museviz.lse import median_filter
from museviz.weights import CHECKPOINT_NAME

VIDEO_FPS = SYNCNET_FPS  # frames per second SyncNet was trained on
AUDIO_RATE = SAMPLE_RATE  # Hz
SAMPLES_PER_FRAME = AUDIO_RATE // VIDEO_FPS  # 640 audio samples per video frame
MFCC_PER_S = 100  # python_speech_features' default 10 ms step
MFCC_PER_FRAME = MFCC_PER_S // VIDEO_FPS  # 4 MFCC columns per video frame
WINDOW_FRAMES = 5  # video frames per window (0.2 s)
WINDOW_MFCC = WINDOW_FRAMES * MFCC_PER_FRAME  # 20 MFCC columns per window
WINDOW_MARGIN_FRAMES = 5  # N = L - 5, not L - 4: every audio slice stays 20 wide
MAX_SHIFT = 15  # syncnet_python's vshift: shifts of -15..+15 windows
N_SHIFTS = 2 * MAX_SHIFT + 1
CROP_SIZE = SYNCNET_CROP_PX  # px: the crops' side
EMBED_DIM = 1024  # the embeddings' length
PAIRWISE_EPS = 1e-6  # torch.nn.functional.pairwise_distance's eps, added to the difference
FRAMEWISE_MEDFILT = 9  # kernel of syncnet_python's median filter over framewise confidence
BATCH_WINDOWS = 32  # windows per forward pass: bounds memory, whatever the clip's length
MIN_FRAMES = WINDOW_MARGIN_FRAMES + 1  # at least one window


class SyncNet(nn.Module):
    """syncnet_python's ``S(num_layers_in_fc_layers=1024)``: the same layers under the same
    state-dict names (``netcnnaud``, ``netfcaud``, ``netcnnlip``, ``netfclip``).

    ``forward_aud`` takes (B, 1, 13, 20) MFCC windows, ``forward_lip`` (B, 3, 5, 224, 224)
    BGR frames 0..255; both return (B, 1024).
    """

    def __init__(self) -> None:
        super().__init__()
        self.netcnnaud = nn.Sequential(
            nn.Conv2d(1, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(1, 1), stride=(1, 1)),
            nn.Conv2d(64, 192, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
            nn.BatchNorm2d(192),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(1, 2)),
            nn.Conv2d(192, 384, kernel_size=(3, 3), padding=(1, 1)),
            nn.BatchNorm2d(384),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=(3, 3), padding=(1, 1)),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=(3, 3), padding=(1, 1)),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2)),
            nn.Conv2d(256, 512, kernel_size=(5, 4), padding=(0, 0)),
            nn.BatchNorm2d(512),
            nn.ReLU(),
        )
        self.netfcaud = _fc_head()
        self.netcnnlip = nn.Sequential(
            nn.Conv3d(3, 96, kernel_size=(5, 7, 7), stride=(1, 2, 2), padding=0),
            nn.BatchNorm3d(96),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            nn.Conv3d(96, 256, kernel_size=(1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            nn.Conv3d(256, 512, kernel_size=(1, 6, 6), padding=0),
            nn.BatchNorm3d(512),
            nn.ReLU(inplace=True),
        )
        self.netfclip = _fc_head()

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        return self.netfcaud(self.netcnnaud(x).flatten(1))

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        return self.netfclip(self.netcnnlip(x).flatten(1))


def _fc_head() -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, EMBED_DIM))


# --- checkpoint ----------------------------------------------------------------------------

OPTIONAL_KEY_SUFFIX = ".num_batches_tracked"  # BatchNorm's counter: older torch versions did not save it


@dataclass(frozen=True, eq=False)
class LoadedSyncNet:
    """A SyncNet ready to run: the model in eval mode on ``device``, and the file it came from."""

    model: SyncNet = field(repr=False)
    name: str
    sha256: str
    device: str


_lock = threading.Lock()
_loaded: dict[tuple, LoadedSyncNet] = {}


def load_syncnet(path: str | os.PathLike, device: str | None = None) -> LoadedSyncNet:
    """SyncNet with the weights of ``path``, loaded once per process (and again if the file changes).

    ``path`` must hold a ``torch.save``d state dict with exactly SyncNet's keys and shapes
    (``num_batches_tracked`` entries may be missing); it is read with ``weights_only=True``,
    so a pickle that would run code is refused, not run. ``device``: None picks CUDA when
    present, else the CPU.

    Raises
    ------
    MusevizError
        When ``path`` does not exist or is not such a checkpoint, in one sentence.
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise MusevizError(f"SyncNet checkpoint {path} does not exist: give the path of {CHECKPOINT_NAME}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_mtime_ns, stat.st_size, device)
    with _lock:
        if key not in _loaded:
            model = SyncNet()
            model.load_state_dict(checked_state(path, model), strict=False)
            # Channels-last 3-D convolutions and pooling run about a third faster on a CPU (same numbers to 1e-6).
            model.netcnnlip.to(memory_format=torch.channels_last_3d)
            _loaded[key] = LoadedSyncNet(model.to(device).eval(), name, _sha256(path), device)
        return _loaded[key]


def checked_state(path: str, model: SyncNet) -> dict[str, torch.Tensor]:
    """The state dict in ``path``, checked key by key and shape by shape against ``model``'s."""
    name = os.path.basename(path)
    expected = f"give {CHECKPOINT_NAME}, a torch.save'd SyncNet state dict"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        # weights_only names the first class or function the pickle would have called.
        reason = "it holds objects other than tensors" if "Unsupported global" in str(exc) else "not a torch file"
        raise MusevizError(f"{name} is not a SyncNet checkpoint ({reason}): {expected}") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise MusevizError(f"{name} is not a SyncNet checkpoint (not a mapping of names to tensors): {expected}")
    own = model.state_dict()
    unknown = sorted(set(state) - set(own))
    missing = sorted(k for k in set(own) - set(state) if not k.endswith(OPTIONAL_KEY_SUFFIX))
    if unknown or missing:
        what = f"unknown key {unknown[0]!r}" if unknown else f"missing key {missing[0]!r}"
        count = len(unknown) + len(missing)
        raise MusevizError(f"{name} is not a SyncNet checkpoint ({what}{f' and {count - 1} more' if count > 1 else ''}): {expected}")
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[key].shape):
            raise MusevizError(
                f"{name} is not a SyncNet checkpoint ({key} has shape {tuple(tensor.shape)}, not {tuple(own[key].shape)}): {expected}"
            )
    return state


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- scores --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LseScores:
    """SyncNet's verdict on one clip.

    ``dists`` (31,) float32 is the mean distance ``D[j]`` for j = 0..30 in SyncNet's order:
    video window k against audio window ``k + j - 15`` (``SHIFTS[j]``), so ``offset_frames =
    15 - argmin``. ``framewise_conf`` (n_windows,) float32 is syncnet_python's framewise
    confidence: ``median(D) - d[k, argmin]`` median-filtered over 9 windows (window k is
    frames k..k+4); it is shown, not part of LSE.
    """

    lse_c: float
    lse_d: float
    offset_frames: int
    dists: np.ndarray = field(repr=False)
    framewise_conf: np.ndarray = field(repr=False)
    n_windows: int


SHIFTS = np.arange(-MAX_SHIFT, MAX_SHIFT + 1)  # audio window k + SHIFTS[j] against video window k


def count_windows(n_frames: int, n_samples: int) -> int:
    """``N = min(n_frames, n_samples // 640) - 5``: the windows syncnet_python scores."""
    return min(n_frames, n_samples // SAMPLES_PER_FRAME) - WINDOW_MARGIN_FRAMES


def mfcc(audio: np.ndarray) -> np.ndarray:
    """(13, T_a) float64: python_speech_features' MFCCs with its defaults on int16 ``audio`` at 16 kHz."""
    import python_speech_features

    return python_speech_features.mfcc(audio, AUDIO_RATE).T


class LseRun:
    """LSE of one clip, fed its 224 x 224 BGR crops in order, one at a time.

    The audio is embedded at once; video windows are embedded ``batch_windows`` at a time
    as their frames arrive, so memory holds one batch of crops, never the clip.

    Raises
    ------
    MusevizError
        When the clip is too short for one window (``count_windows`` < 1).
    """

    def __init__(self, checkpoint: str | os.PathLike, audio: np.ndarray, n_frames: int, batch_windows: int = BATCH_WINDOWS):
        audio = np.asarray(audio)
        if audio.dtype != np.int16 or audio.ndim != 1:
            raise ValueError(f"audio must be int16 mono samples, not {audio.dtype} of shape {audio.shape}")
        self.n_windows = count_windows(n_frames, len(audio))
        if self.n_windows < 1:
            have = min(n_frames / VIDEO_FPS, len(audio) / AUDIO_RATE)
            raise MusevizError(
                f"{have:.2f} s of video with sound is too short for SyncNet, which needs {MIN_FRAMES / VIDEO_FPS:.2f} s"
            )
        self.net = load_syncnet(checkpoint)
        self._batch = batch_windows
        self._audio = self._embed_audio(mfcc(audio))
        self._pending: list[np.ndarray] = []
        self._video: list[torch.Tensor] = []
        self._done = 0

    @property
    def n_frames_needed(self) -> int:
        """Frames the windows read: ``n_windows + 4``; later ones are ignored."""
        return self.n_windows + WINDOW_FRAMES - 1

    def add(self, crop: np.ndarray) -> None:
        """The next frame's crop: (224, 224, 3) uint8 BGR."""
        if crop.shape != (CROP_SIZE, CROP_SIZE, 3) or crop.dtype != np.uint8:
            raise ValueError(f"a crop must be ({CROP_SIZE}, {CROP_SIZE}, 3) uint8 BGR, not {crop.dtype} {crop.shape}")
        if self._done == self.n_windows:
            return
        self._pending.append(crop)
        if len(self._pending) >= self._batch + WINDOW_FRAMES - 1:
            self._embed_pending()

    def finish(self) -> LseScores:
        """The scores, once every frame up to the last window's end has been added."""
        while self._done < self.n_windows and len(self._pending) >= WINDOW_FRAMES:
            self._embed_pending()
        if self._done < self.n_windows:
            raise ValueError(f"{self._done + len(self._pending)} crops were added; {self.n_windows} windows need {self.n_windows + WINDOW_FRAMES - 1}")
        return _scores(torch.cat(self._video), self._audio)

    def _embed_pending(self) -> None:
        count = min(self._batch, self.n_windows - self._done, len(self._pending) - WINDOW_FRAMES + 1)
        if count > 0:
            frames = torch.from_numpy(np.stack(self._pending[: count + WINDOW_FRAMES - 1]))  # (count + 4, H, W, 3)
            windows = frames.unfold(0, WINDOW_FRAMES, 1).permute(0, 3, 4, 1, 2)  # (count, 3, 5, H, W)
            self._video.append(self._embed(self.net.model.forward_lip, windows, torch.channels_last_3d))
            self._done += count
            self._pending = self._pending[count:]
        if self._done == self.n_windows:
            self._pending = []

    def _embed_audio(self, cepstra: np.ndarray) -> torch.Tensor:
        """(N, 1024): each window's 20 MFCC columns through ``forward_aud``, in batches."""
        cct = torch.from_numpy(cepstra.astype(float)).float()
        starts = range(0, self.n_windows * MFCC_PER_FRAME, MFCC_PER_FRAME)
        parts = []
        for first in range(0, self.n_windows, self._batch):
            batch = torch.stack([cct[:, s : s + WINDOW_MFCC] for s in starts[first : first + self._batch]])[:, None]
            parts.append(self._embed(self.net.model.forward_aud, batch))
        return torch.cat(parts)

    def _embed(self, forward, batch: torch.Tensor, memory_format=torch.contiguous_format) -> torch.Tensor:
        with torch.inference_mode():
            return forward(batch.to(self.net.device, torch.float32).contiguous(memory_format=memory_format)).float().cpu()


def _scores(video: torch.Tensor, audio: torch.Tensor) -> LseScores:
    """The metric on (N, 1024) video and audio embeddings (float32, on the CPU, as syncnet_python)."""
    n_windows = len(video)
    padded = torch.nn.functional.pad(audio, (0, 0, MAX_SHIFT, MAX_SHIFT))  # zero rows: shifts past either end
    rows = []
    for first in range(0, n_windows, BATCH_WINDOWS * 8):
        v = video[first : first + BATCH_WINDOWS * 8]
        shifted = padded[first : first + len(v) + 2 * MAX_SHIFT].unfold(0, N_SHIFTS, 1).transpose(1, 2)  # (n, 31, 1024)
        rows.append(torch.nn.functional.pairwise_distance(v[:, None, :].expand_as(shifted), shifted, eps=PAIRWISE_EPS))
    dist = torch.cat(rows)  # (N, 31)
    mean = dist.mean(0)
    lse_d, best = torch.min(mean, 0)
    median = torch.median(mean)
    framewise = median_filter(median.numpy() - dist[:, best].numpy(), FRAMEWISE_MEDFILT)
    return LseScores(
        lse_c=float(median - lse_d),
        lse_d=float(lse_d),
        offset_frames=MAX_SHIFT - int(best),
        dists=mean.numpy(),
        framewise_conf=framewise.astype(np.float32),
        n_windows=n_windows,
    )


def lse_scores(frames: np.ndarray, audio: np.ndarray, checkpoint: str | os.PathLike) -> LseScores:
    """LSE-C, LSE-D and the offset of ready-made crops, exactly as syncnet_python's ``evaluate``.

    Parameters
    ----------
    frames : np.ndarray, shape (T, 224, 224, 3), uint8
        BGR crops at 25 fps (no normalisation: SyncNet takes 0..255).
    audio : np.ndarray, shape (n,), int16
        Mono samples at 16 kHz; sample 0 is frame 0's start.
    checkpoint : path
        SyncNet weights in the published ``syncnet_v2.model`` format.

    Returns
    -------
    LseScores

    Raises
    ------
    MusevizError
        For a checkpoint that is not SyncNet's, or a clip shorter than one window.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[1:] != (CROP_SIZE, CROP_SIZE, 3) or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, {CROP_SIZE}, {CROP_SIZE}, 3) uint8 BGR, not {frames.dtype} {frames.shape}")
    run = LseRun(checkpoint, audio, len(frames))
    for crop in frames[: run.n_frames_needed]:
        run.add(crop)
    return run.finish()
