"""Every setting museviz reads from the environment, with its default, in one place."""

from __future__ import annotations

import os

CHECKPOINT_ENV = "MUSEVIZ_WHISPER_CHECKPOINT"  # a Whisper checkpoint in openai-whisper's format
OFFLINE_ENV = "MUSEVIZ_OFFLINE"  # 1: never try to download Whisper or SyncNet weights
SYNCNET_ENV = "MUSEVIZ_SYNCNET_CHECKPOINT"  # SyncNet weights in the published syncnet_v2.model format
DEFAULT_MODEL = "tiny"  # MuseTalk's Whisper encoder


def env_checkpoint() -> str | None:
    """The checkpoint named by ``$MUSEVIZ_WHISPER_CHECKPOINT``, or None."""
    return os.environ.get(CHECKPOINT_ENV) or None


def env_syncnet() -> str | None:
    """The SyncNet checkpoint named by ``$MUSEVIZ_SYNCNET_CHECKPOINT``, or None."""
    return os.environ.get(SYNCNET_ENV) or None


def offline() -> bool:
    """True when ``$MUSEVIZ_OFFLINE`` forbids downloads."""
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def _int_env(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    try:
        return int(text) if text else default
    except ValueError:
        raise SystemExit(f"museviz: error: {name}={text!r} is not a whole number") from None


def _float_env(name: str, default: float) -> float:
    text = os.environ.get(name, "")
    try:
        return float(text) if text else default
    except ValueError:
        raise SystemExit(f"museviz: error: {name}={text!r} is not a number") from None


# The command line: defaults of --max-duration and --decode-timeout.
CLI_MAX_DURATION_S = _float_env("MUSEVIZ_CLI_MAX_DURATION_S", 3600.0)  # an hour of video
CLI_DECODE_TIMEOUT_S = _float_env("MUSEVIZ_CLI_DECODE_TIMEOUT_S", 600.0)  # per pass over the file

# The web app (read once, at start-up).
MAX_DURATION_S = _float_env("MUSEVIZ_MAX_DURATION_S", 600.0)  # longer uploads are refused with a message
DECODE_TIMEOUT_S = _float_env("MUSEVIZ_DECODE_TIMEOUT_S", 120.0)  # seconds of decoding per pass over a clip
MAX_UPLOAD_MB = _int_env("MUSEVIZ_MAX_UPLOAD_MB", 200)  # Gradio refuses larger uploads
CONCURRENCY = _int_env("MUSEVIZ_CONCURRENCY", 2)  # analyses running at once; more wait in the queue
QUEUE_SIZE = _int_env("MUSEVIZ_QUEUE_SIZE", 64)  # requests waiting beyond that are refused
CACHE_SIZE = _int_env("MUSEVIZ_CACHE_SIZE", 4)  # analyses kept in memory for the Inspect tab
AUDIT_MAX_CLIPS = _int_env("MUSEVIZ_AUDIT_MAX_CLIPS", 100)  # clips per zip on the Audit tab
AUDIT_MAX_UNZIPPED_MB = _int_env("MUSEVIZ_AUDIT_MAX_UNZIPPED_MB", 1000)  # a zip may not unpack to more
AUDIT_WORKERS = _int_env("MUSEVIZ_AUDIT_WORKERS", 1)  # processes per audit on the server
