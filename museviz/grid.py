"""The feature grids: how many features a clip gets, and where each one sits in time.

museviz extracts two of them (``whisper50`` and ``mel80``); the others are the grids the
systems of ``museviz.systems`` read (wav2vec2 and HuBERT CNN frames, DeepSpeech rows,
TalkLip's stacked filterbanks, MakeItTalk's AutoVC rows, PC-AVS's lws mel). museviz does not
extract those: it only needs their timing, to draw each rule's window in time over the two
streams it has. Kept apart from the feature extractors (which load torch and librosa) so
that the rules, the checks and the audit can reason about timing without them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000  # Hz: what Whisper, Wav2Lip and SyncNet all read
WHISPER_HOP_LENGTH = 160  # samples: 10 ms between Whisper log-mel frames
MEL_FRAMES_PER_TOKEN = 2  # the encoder's second convolution has stride 2
SAMPLES_PER_TOKEN = WHISPER_HOP_LENGTH * MEL_FRAMES_PER_TOKEN  # 320 samples: 20 ms
TOKENS_PER_SECOND = SAMPLE_RATE / SAMPLES_PER_TOKEN  # 50 whisper50 tokens per second; token k centred at k / 50 s

# Where whisper50 features came from (``report.json`` ``features.whisper50.source``).
SOURCE_ENCODER = "whisper-encoder"  # the encoder's hidden states
SOURCE_FALLBACK = "logmel-pool"  # no weights: Whisper's log-mel averaged in pairs

SYNCNET_FPS = 25  # SyncNet (LSE-C / LSE-D) reads video at 25 fps: 640 samples, 4 of its 10 ms MFCCs per frame
SYNCNET_CROP_PX = 224  # and square frames this wide

MEL80_HOP_LENGTH = 200  # samples: 12.5 ms between Wav2Lip mel frames
MEL80_PER_SECOND = SAMPLE_RATE / MEL80_HOP_LENGTH  # 80 mel frames per second; frame m centred at m / 80 s


def n_tokens(n_samples: int) -> int:
    """``W = N // 320``: whisper50 tokens of audio with ``n_samples`` samples at 16 kHz."""
    return n_samples // SAMPLES_PER_TOKEN


def n_mel_frames(n_samples: int) -> int:
    """``M = 1 + N // 200``: a centred STFT has one frame per hop plus one."""
    return 1 + n_samples // MEL80_HOP_LENGTH


CNN_KERNEL = 400  # samples: the receptive field of wav2vec2's and HuBERT's convolutional front end
CNN_STRIDE = 320  # samples: its total stride, 20 ms
HUBERT_CLIP_OVERLAP = CNN_KERNEL - CNN_STRIDE  # 80 samples: GeneFace and ER-NeRF count frames as (N - 80) // 320
SPEECH_FEATURES_WINDOW = 400  # samples: python_speech_features' 25 ms frames (DeepSpeech MFCC, TalkLip fbank)
SPEECH_FEATURES_STEP = 160  # samples: 10 ms between them
DEEPSPEECH_PER_SECOND = 50  # DeepSpeech reads every other MFCC frame: one logit row per 20 ms
TALKLIP_STACK = 4  # fbank frames stacked into one TalkLip row: 40 ms, 25 rows per second
AUTOVC_HOP = 256  # samples: MakeItTalk's STFT hop, 62.5 rows per second
LWS_FFT = 1280  # samples: PC-AVS's lws frame
LWS_HOP = 160  # samples: its hop, 100 columns per second
LWS_PAD = LWS_FFT - LWS_HOP  # 1120 samples lws pads on the left: column m is centred at sample 160 m - 480


@dataclass(frozen=True)
class Grid:
    """A feature grid: how many features ``N`` samples at 16 kHz give, and where each one sits.

    Feature ``k`` (or a fractional position ``p`` between features) is centred at
    ``offset_s + p / rate_hz`` seconds on the audio clock (0 = the first audio sample).
    ``stream`` is the extracted stream museviz draws it over (the one closest in rate).
    """

    name: str
    rate_hz: float
    offset_s: float
    stream: str
    label: str
    count: Callable[[int], int]

    def centre_s(self, position):
        """Seconds at which ``position`` (a feature index, or an array of fractional ones) is centred."""
        return self.offset_s + np.asarray(position) / self.rate_hz

    def position_at(self, t_s):
        """The (fractional) position centred at ``t_s`` seconds."""
        return (np.asarray(t_s) - self.offset_s) * self.rate_hz


def n_cnn_frames(n_samples: int) -> int:
    """``C = floor((N - 400) / 320) + 1``: wav2vec2's CNN frames; frame ``k`` covers samples ``[320k, 320k + 400)``."""
    return max((n_samples - CNN_KERNEL) // CNN_STRIDE + 1, 0)


def n_hubert_rows(n_samples: int) -> int:
    """``T = (N - 80) // 320``: HuBERT rows as GeneFace and ER-NeRF count them (the same as ``C`` from 80 samples on)."""
    return max((n_samples - HUBERT_CLIP_OVERLAP) // CNN_STRIDE, 0)


def n_speech_frames(n_samples: int) -> int:
    """python_speech_features' frame count: 1 up to 400 samples, else ``1 + ceil((N - 400) / 160)``."""
    if n_samples <= SPEECH_FEATURES_WINDOW:
        return 1
    return 1 + math.ceil((n_samples - SPEECH_FEATURES_WINDOW) / SPEECH_FEATURES_STEP)


def n_deepspeech_rows(n_samples: int) -> int:
    """``L = ceil(n_mfcc / 2)``: DeepSpeech reads every other MFCC frame, one logit row per 20 ms."""
    return math.ceil(n_speech_frames(n_samples) / 2)


def n_deepspeech25_rows(n_samples: int) -> int:
    """``R = ceil(L / 2)``: DINet keeps every other logit row, one per 40 ms."""
    return math.ceil(n_deepspeech_rows(n_samples) / 2)


def n_talklip_rows(n_samples: int) -> int:
    """``A = ceil(n_fbank / 4)``: TalkLip stacks four 10 ms filterbank frames (zero-padded) into a row."""
    return math.ceil(n_speech_frames(n_samples) / TALKLIP_STACK)


def n_autovc_rows(n_samples: int) -> int:
    """``T = floor(N' / 256) + 1`` with ``N' = N + 1`` when ``N % 256 == 0`` (MakeItTalk appends a sample)."""
    padded = n_samples + 1 if n_samples % AUTOVC_HOP == 0 else n_samples
    return padded // AUTOVC_HOP + 1


def n_lws_columns(n_samples: int) -> int:
    """``M = ceil(N / 160) + 7``: PC-AVS's own ``lws_num_frames`` for fft 1280, hop 160."""
    return math.ceil(n_samples / LWS_HOP) + 7


SPEECH_FRAME_CENTRE_S = SPEECH_FEATURES_WINDOW / 2 / SAMPLE_RATE  # 12.5 ms: the centre of a 25 ms frame starting at 0

GRIDS: dict[str, Grid] = {
    grid.name: grid
    for grid in (
        Grid("whisper50", TOKENS_PER_SECOND, 0.0, "whisper50", "Whisper encoder tokens", n_tokens),
        Grid("mel80", MEL80_PER_SECOND, 0.0, "mel80", "Wav2Lip's 80 Hz mel", n_mel_frames),
        Grid("wav2vec2", SAMPLE_RATE / CNN_STRIDE, SPEECH_FRAME_CENTRE_S, "whisper50", "wav2vec2 CNN frames", n_cnn_frames),
        Grid("hubert", SAMPLE_RATE / CNN_STRIDE, SPEECH_FRAME_CENTRE_S, "whisper50", "HuBERT rows, (N - 80) // 320", n_hubert_rows),
        Grid("deepspeech50", DEEPSPEECH_PER_SECOND, SPEECH_FRAME_CENTRE_S, "whisper50", "DeepSpeech logit rows, 50 Hz", n_deepspeech_rows),
        Grid("deepspeech25", DEEPSPEECH_PER_SECOND / 2, SPEECH_FRAME_CENTRE_S, "whisper50", "DeepSpeech rows, every other: 25 Hz", n_deepspeech25_rows),
        Grid("talklip-fbank", SAMPLE_RATE / (SPEECH_FEATURES_STEP * TALKLIP_STACK),
             SPEECH_FRAME_CENTRE_S + 1.5 * SPEECH_FEATURES_STEP / SAMPLE_RATE, "mel80", "TalkLip's 4 stacked fbank frames", n_talklip_rows),
        Grid("autovc", SAMPLE_RATE / AUTOVC_HOP, 0.0, "mel80", "MakeItTalk's AutoVC rows, 62.5 Hz", n_autovc_rows),
        Grid("lws-mel", SAMPLE_RATE / LWS_HOP, (LWS_FFT / 2 - LWS_PAD) / SAMPLE_RATE, "mel80", "PC-AVS's lws mel, 100 Hz", n_lws_columns),
    )
}
