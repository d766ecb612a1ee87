"""The two feature grids: how many features a clip gets, and where each one sits in time.

Kept apart from the feature extractors (which load torch and librosa) so that the rules,
the checks and the audit can reason about timing without them.
"""

from __future__ import annotations

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
