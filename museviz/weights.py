"""Where SyncNet's weights are: given, cached, or downloaded. No torch here, so that an
analysis without weights learns it without loading torch."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import urllib.parse
import urllib.request

from museviz.config import SYNCNET_ENV, offline
from museviz.errors import MusevizError

CHECKPOINT_NAME = "syncnet_v2.model"  # the published weights' file name
DOWNLOAD_URL = "https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model"  # syncnet_python's download_model.sh
DOWNLOAD_PROBE_TIMEOUT_S = 3.0
DOWNLOAD_TIMEOUT_S = 120.0


def cache_path() -> str:
    """Where museviz keeps (and downloads) the weights: ``$XDG_CACHE_HOME/museviz/syncnet_v2.model``
    (``~/.cache/museviz/...`` by default)."""
    default = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.getenv("XDG_CACHE_HOME") or default, "museviz", CHECKPOINT_NAME)


def find_checkpoint(explicit: str | os.PathLike | None = None, download: bool = True) -> str:
    """The SyncNet weights to use, found in this order:

    1. ``explicit``: a path the user gave (``--syncnet``, ``$MUSEVIZ_SYNCNET_CHECKPOINT``);
    2. the cache file, ``cache_path()``;
    3. a download of the published weights into the cache, when ``download`` and the
       network allow it (never with ``MUSEVIZ_OFFLINE=1``).

    Raises
    ------
    MusevizError
        When none is found: one sentence saying how to enable LSE.
    """
    if explicit:
        return os.fspath(explicit)
    cached = cache_path()
    if os.path.isfile(cached):
        return cached
    failed = ""
    if download and _download_possible():
        try:
            _download(cached)
            return cached
        except OSError as exc:
            failed = f" (the download failed: {getattr(exc, 'reason', None) or exc})"
    raise MusevizError(
        f"no SyncNet weights{failed}; put {CHECKPOINT_NAME} (syncnet_python's published weights) "
        f"in {os.path.dirname(cached)}, or give its path with --syncnet or {SYNCNET_ENV}"
    )


def _download_possible() -> bool:
    """A quick reachability probe, so that an offline machine gives up at once."""
    if offline():
        return False
    try:
        socket.create_connection((urllib.parse.urlparse(DOWNLOAD_URL).hostname, 443), timeout=DOWNLOAD_PROBE_TIMEOUT_S).close()
    except OSError:
        return False
    return True


def _download(target: str) -> None:
    """The published weights into ``target``, under a temporary name until they are complete
    and checked (an error page never lands in the cache)."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd, part = tempfile.mkstemp(dir=os.path.dirname(target), prefix=f".{CHECKPOINT_NAME}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(DOWNLOAD_URL, timeout=DOWNLOAD_TIMEOUT_S) as response:
            shutil.copyfileobj(response, out)
        from museviz.syncnet import SyncNet, checked_state  # torch, only once there is something to check

        checked_state(part, SyncNet())
        os.replace(part, target)
    except BaseException:
        os.unlink(part)
        raise
