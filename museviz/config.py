"""Every setting museviz reads from the environment, with its default, in one place."""

from __future__ import annotations

import os

CHECKPOINT_ENV = "MUSEVIZ_WHISPER_CHECKPOINT"  # a Whisper checkpoint in openai-whisper's format
OFFLINE_ENV = "MUSEVIZ_OFFLINE"  # 1: never try to download Whisper weights
DEFAULT_MODEL = "tiny"  # MuseTalk's Whisper encoder


def env_checkpoint() -> str | None:
    """The checkpoint named by ``$MUSEVIZ_WHISPER_CHECKPOINT``, or None."""
    return os.environ.get(CHECKPOINT_ENV) or None


def offline() -> bool:
    """True when ``$MUSEVIZ_OFFLINE`` forbids downloads."""
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def _int_env(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    try:
        return int(text) if text else default
    except ValueError:
        raise SystemExit(f"museviz: error: {name}={text!r} is not a whole number") from None


# The web app (read once, at start-up).
MAX_UPLOAD_MB = _int_env("MUSEVIZ_MAX_UPLOAD_MB", 200)  # Gradio refuses larger uploads
CONCURRENCY = _int_env("MUSEVIZ_CONCURRENCY", 2)  # analyses running at once; more wait in the queue
QUEUE_SIZE = _int_env("MUSEVIZ_QUEUE_SIZE", 64)  # requests waiting beyond that are refused
CACHE_SIZE = _int_env("MUSEVIZ_CACHE_SIZE", 4)  # analyses kept in memory for the Inspect tab
AUDIT_MAX_CLIPS = _int_env("MUSEVIZ_AUDIT_MAX_CLIPS", 100)  # clips per zip on the Audit tab
AUDIT_MAX_UNZIPPED_MB = _int_env("MUSEVIZ_AUDIT_MAX_UNZIPPED_MB", 1000)  # a zip may not unpack to more
AUDIT_WORKERS = _int_env("MUSEVIZ_AUDIT_WORKERS", 1)  # processes per audit on the server
