"""The floor a whole ``museviz analyze`` process is compared with, as a process of its own.

    python bench/_floor.py CLIP CHECKPOINT OUT.mp4 WIDTH HEIGHT CODEC PIX_FMT OPTIONS_JSON

It does only what no analysis can skip: load the Whisper encoder and run it over the clip's
audio in 30 s segments (as openai-whisper does), and re-encode the clip padded with black to
the overlay's size (every frame decoded, padded by FFmpeg's ``pad`` filter, encoded with the
overlay's codec and settings, the audio packets copied). It imports av, numpy, torch and
whisper and nothing of museviz, so its start-up is the least any such process pays.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16000
SEGMENT_S = 30


def encoder_passes(clip: Path, checkpoint: str) -> None:
    """The Whisper encoder over every 30 s segment of the clip's audio (mono, 16 kHz)."""
    import torch
    import whisper

    model = whisper.load_model(checkpoint, device="cpu")
    audio = decoded_audio(clip)
    with torch.inference_mode():
        for start in range(0, len(audio), SEGMENT_S * SAMPLE_RATE):
            segment = whisper.pad_or_trim(torch.from_numpy(audio[start : start + SEGMENT_S * SAMPLE_RATE]))
            model.encoder(whisper.log_mel_spectrogram(segment, model.dims.n_mels)[None])


def decoded_audio(clip: Path) -> np.ndarray:
    with av.open(str(clip)) as source:
        resampler = av.AudioResampler("flt", "mono", SAMPLE_RATE)
        chunks = [out.to_ndarray().ravel() for frame in source.decode(audio=0) for out in resampler.resample(frame)]
        chunks += [out.to_ndarray().ravel() for out in resampler.resample(None)]
    return np.concatenate(chunks)


def reencode(src: Path, dst: Path, codec: str, pix_fmt: str, options: dict[str, str], pad_to: tuple[int, int] | None = None) -> None:
    """Decode every frame and encode it again with ``codec`` and ``options``, audio copied.

    ``pad_to`` (width, height) pads each frame with black (ffmpeg's ``pad`` filter) to
    that size: the encoder's own cost of frames that big.
    """
    with av.open(str(src)) as source, av.open(str(dst), "w", format="mp4") as output:
        in_video, in_audio = source.streams.video[0], source.streams.audio[0]
        in_video.thread_type = "AUTO"
        width, height = pad_to or (in_video.width, in_video.height)
        out_video = output.add_stream(codec, rate=in_video.average_rate, options=dict(options))
        out_video.width, out_video.height, out_video.pix_fmt = width, height, pix_fmt
        out_video.time_base = out_video.codec_context.time_base = in_video.time_base
        out_video.codec_context.thread_type = "AUTO"
        out_audio = output.add_stream_from_template(in_audio)
        pad = _pad_graph(in_video, width, height) if pad_to else None
        for packet in source.demux(in_video, in_audio):
            if packet.stream is in_audio:
                if packet.dts is not None:
                    packet.stream = out_audio
                    output.mux(packet)
                continue
            for frame in packet.decode():
                if pad is not None:
                    pad.push(frame)
                    frame = pad.pull()
                output.mux(out_video.encode(frame))
        output.mux(out_video.encode())


def _pad_graph(in_video, width: int, height: int) -> av.filter.Graph:
    graph = av.filter.Graph()
    source = graph.add_buffer(template=in_video)
    pad = graph.add("pad", f"{width}:{height}:0:0:black")
    sink = graph.add("buffersink")
    source.link_to(pad)
    pad.link_to(sink)
    graph.configure()
    return graph


if __name__ == "__main__":
    clip, checkpoint, out, width, height, codec, pix_fmt, options = sys.argv[1:]
    encoder_passes(Path(clip), checkpoint)
    reencode(Path(clip), Path(out), codec, pix_fmt, json.loads(options), (int(width), int(height)))
