"""SyncNet's LSE-C / LSE-D against a literal restatement of syncnet_python's ``evaluate``."""

import math
import os

import numpy
import numpy as np
import pytest
import python_speech_features
import torch
from scipy import signal

from museviz import syncnet, weights
from museviz.errors import MusevizError
from museviz.synth import face_frame, loudness_envelope

# LSE.md 4.2: the published state dict's keys and shapes, written out from the notes.
CONV_AUD = {0: (64, 1, 3, 3), 4: (192, 64, 3, 3), 8: (384, 192, 3, 3), 11: (256, 384, 3, 3), 14: (256, 256, 3, 3), 18: (512, 256, 5, 4)}
CONV_LIP = {0: (96, 3, 5, 7, 7), 4: (256, 96, 1, 5, 5), 8: (256, 256, 1, 3, 3), 11: (256, 256, 1, 3, 3), 14: (256, 256, 1, 3, 3), 18: (512, 256, 1, 6, 6)}


def published_shapes() -> dict:
    shapes = {}
    for net, convs in (("netcnnaud", CONV_AUD), ("netcnnlip", CONV_LIP)):
        for idx, shape in convs.items():
            shapes[f"{net}.{idx}.weight"], shapes[f"{net}.{idx}.bias"] = shape, (shape[0],)
            for key in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{net}.{idx + 1}.{key}"] = (shape[0],)
            shapes[f"{net}.{idx + 1}.num_batches_tracked"] = ()
    for net in ("netfcaud", "netfclip"):
        shapes.update({f"{net}.0.weight": (512, 512), f"{net}.0.bias": (512,), f"{net}.3.weight": (1024, 512), f"{net}.3.bias": (1024,)})
        shapes.update({f"{net}.1.{key}": (512,) for key in ("weight", "bias", "running_mean", "running_var")})
        shapes[f"{net}.1.num_batches_tracked"] = ()
    return shapes


def test_the_network_has_the_published_keys_shapes_and_parameter_count():
    model = syncnet.SyncNet()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == published_shapes()
    assert sum(p.numel() for p in model.parameters()) == 13_631_616
    model.eval()
    with torch.inference_mode():
        assert model.forward_lip(torch.zeros(2, 3, 5, 224, 224)).shape == (2, 1024)
        assert model.forward_aud(torch.zeros(2, 1, 13, 20)).shape == (2, 1024)


# --- syncnet_python's evaluate, restated literally (LSE.md 2.1, 2.3, 3.1, 4.3, 5.1, 5.2) ----


def calc_pdist(feat1, feat2, vshift=10):
    win_size = vshift * 2 + 1
    feat2p = torch.nn.functional.pad(feat2, (0, 0, vshift, vshift))
    dists = []
    for i in range(0, len(feat1)):
        dists.append(torch.nn.functional.pairwise_distance(feat1[[i], :].repeat(win_size, 1), feat2p[i : i + win_size, :]))
    return dists


def load_parameters(path):
    model = syncnet.SyncNet()
    loaded_state = torch.load(path, map_location=lambda storage, loc: storage)
    self_state = model.state_dict()
    for name, param in loaded_state.items():
        self_state[name].copy_(param)
    return model.eval()


def reference_evaluate(model, images, audio, sample_rate=16000, batch_size=20, vshift=15):
    im = numpy.stack(images, axis=3)
    im = numpy.expand_dims(im, axis=0)
    im = numpy.transpose(im, (0, 3, 4, 1, 2))
    imtv = torch.autograd.Variable(torch.from_numpy(im.astype(float)).float())

    mfcc = zip(*python_speech_features.mfcc(audio, sample_rate))
    mfcc = numpy.stack([numpy.array(i) for i in mfcc])
    cc = numpy.expand_dims(numpy.expand_dims(mfcc, axis=0), axis=0)
    cct = torch.autograd.Variable(torch.from_numpy(cc.astype(float)).float())

    min_length = min(len(images), math.floor(len(audio) / 640))
    lastframe = min_length - 5
    im_feat = []
    cc_feat = []
    for i in range(0, lastframe, batch_size):
        im_batch = [imtv[:, :, vframe : vframe + 5, :, :] for vframe in range(i, min(lastframe, i + batch_size))]
        im_in = torch.cat(im_batch, 0)
        im_out = model.forward_lip(im_in)
        im_feat.append(im_out.data.cpu())
        cc_batch = [cct[:, :, :, vframe * 4 : vframe * 4 + 20] for vframe in range(i, min(lastframe, i + batch_size))]
        cc_in = torch.cat(cc_batch, 0)
        cc_out = model.forward_aud(cc_in)
        cc_feat.append(cc_out.data.cpu())
    im_feat = torch.cat(im_feat, 0)
    cc_feat = torch.cat(cc_feat, 0)

    dists = calc_pdist(im_feat, cc_feat, vshift=vshift)
    mdist = torch.mean(torch.stack(dists, 1), 1)
    minval, minidx = torch.min(mdist, 0)
    offset = vshift - minidx
    conf = torch.median(mdist) - minval
    fdist = numpy.stack([dist[minidx].numpy() for dist in dists])
    fconf = torch.median(mdist).numpy() - fdist
    fconfm = signal.medfilt(fconf, kernel_size=9)
    return offset.numpy(), minval.numpy(), conf.numpy(), mdist.numpy(), fconfm


# --- the same crops and audio through both ---------------------------------------------------


def talking_crops(speech: np.ndarray, n_frames: int, delay_frames: int = 0) -> list[np.ndarray]:
    """224 x 224 BGR crops of the synthetic face whose mouth follows ``speech`` ``delay_frames`` late."""
    times_s = (np.arange(n_frames) - delay_frames) / 25.0
    openness = loudness_envelope(speech, 16000, np.clip(times_s, 0, None))
    return [np.ascontiguousarray(face_frame(o, (224, 224))[:, :, ::-1]) for o in openness]


def int16(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.round(audio * 32768), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize(
    "n_frames, n_samples, delay_frames",
    [
        (40, 40 * 640, 0),  # lengths that agree: L = 40, N = 35
        (44, 30 * 640 + 123, 2),  # audio shorter and not a whole number of frames: L = 30, N = 25 < 31 shifts
        (36, 60 * 640, -3),  # audio longer: L = 36, the extra audio ignored
    ],
)
def test_lse_scores_equal_syncnet_pythons_evaluate(syncnet_checkpoint, speech, n_frames, n_samples, delay_frames):
    audio = int16(np.pad(speech, (0, max(0, n_samples - len(speech))))[:n_samples])
    images = talking_crops(speech, n_frames, delay_frames)
    offset, minval, conf, mdist, fconfm = reference_evaluate(load_parameters(syncnet_checkpoint), images, audio)

    ours = syncnet.lse_scores(np.stack(images), audio, syncnet_checkpoint)

    assert ours.n_windows == min(n_frames, n_samples // 640) - 5
    assert ours.dists.shape == (31,)
    np.testing.assert_allclose(ours.dists, mdist, rtol=1e-4, atol=0)
    assert ours.offset_frames == int(offset)
    assert ours.lse_d == pytest.approx(float(minval), rel=1e-4)
    assert ours.lse_c == pytest.approx(float(conf), rel=1e-4, abs=1e-4 * float(minval))
    np.testing.assert_allclose(ours.framewise_conf, fconfm, rtol=0, atol=1e-4 * float(minval))


def test_the_padded_shifts_count_in_the_mean(syncnet_checkpoint, speech):
    """With N = 10 windows, shift -15 pairs every window with a zero row: its mean is the
    mean video embedding's norm, which masking the padding would never produce."""
    images = talking_crops(speech, 15)
    audio = int16(speech[: 15 * 640])
    ours = syncnet.lse_scores(np.stack(images), audio, syncnet_checkpoint)
    model = load_parameters(syncnet_checkpoint)
    with torch.no_grad():
        windows = torch.stack([torch.from_numpy(np.stack(images[k : k + 5])).permute(3, 0, 1, 2).float() for k in range(10)])
        norms = torch.linalg.vector_norm(model.forward_lip(windows) + 1e-6, dim=1)
    assert ours.dists[0] == pytest.approx(float(norms.mean()), rel=1e-4)


def test_a_clip_shorter_than_one_window_is_one_sentence(syncnet_checkpoint):
    frames = np.zeros((5, 224, 224, 3), np.uint8)
    with pytest.raises(MusevizError, match="too short for SyncNet"):
        syncnet.lse_scores(frames, np.zeros(16000, np.int16), syncnet_checkpoint)


# --- loading ---------------------------------------------------------------------------------


def test_the_checkpoint_is_named_and_checksummed(syncnet_checkpoint):
    import hashlib

    net = syncnet.load_syncnet(syncnet_checkpoint)
    assert net.name == "syncnet_random.model" and net.device == "cpu"
    assert net.sha256 == hashlib.sha256(open(syncnet_checkpoint, "rb").read()).hexdigest()
    assert syncnet.load_syncnet(syncnet_checkpoint) is net


def test_a_2019_style_file_loads_legacy_format_without_batch_counters(tmp_path, syncnet_checkpoint):
    """syncnet_v2.model predates torch 1.6's zip format and BatchNorm's saved counters."""
    state = {k: v for k, v in torch.load(syncnet_checkpoint, weights_only=True).items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "old.model", _use_new_zipfile_serialization=False)
    assert syncnet.load_syncnet(tmp_path / "old.model").name == "old.model"


class _Planted:
    """A pickle that would create a file if it were run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def bad_checkpoints(folder, good_path):
    good = torch.load(good_path, weights_only=True)
    (folder / "text.model").write_text("not a checkpoint\n")
    torch.save(syncnet.SyncNet(), folder / "module.model")
    torch.save({"state": good}, folder / "nested.model")
    torch.save({**good, "netcnnlip.99.weight": torch.zeros(1)}, folder / "extra.model")
    torch.save({k: v for k, v in good.items() if k != "netfclip.3.weight"}, folder / "missing.model")
    wide = dict(good)
    wide["netfclip.3.weight"] = torch.zeros(2048, 512)  # the older, 2048-wide syncnetl2 layout
    torch.save(wide, folder / "wide.model")
    torch.save({"weights": _Planted(str(folder / "planted"))}, folder / "planted.model")
    return {
        "text.model": "(not a torch file)",
        "module.model": "(it holds objects other than tensors)",
        "nested.model": "(not a mapping of names to tensors)",
        "extra.model": "(unknown key 'netcnnlip.99.weight')",
        "missing.model": "(missing key 'netfclip.3.weight')",
        "wide.model": "(netfclip.3.weight has shape (2048, 512), not (1024, 512))",
        "planted.model": "(it holds objects other than tensors)",
        "absent.model": "does not exist",
    }


def test_a_file_that_is_not_a_syncnet_checkpoint_is_one_sentence_and_runs_no_code(tmp_path, syncnet_checkpoint):
    for name, says in bad_checkpoints(tmp_path, syncnet_checkpoint).items():
        with pytest.raises(MusevizError) as refused:
            syncnet.load_syncnet(tmp_path / name)
        message = str(refused.value)
        assert says in message and "\n" not in message, message
    assert not (tmp_path / "planted").exists()


def test_checkpoints_are_found_given_then_cached_and_never_downloaded_offline(tmp_path, monkeypatch, syncnet_checkpoint):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(MusevizError) as none:
        weights.find_checkpoint(None)
    message = str(none.value)
    assert message.startswith("no SyncNet weights; put syncnet_v2.model")
    assert str(tmp_path / "cache" / "museviz") in message and "--syncnet" in message and "MUSEVIZ_SYNCNET_CHECKPOINT" in message
    cached = tmp_path / "cache" / "museviz" / "syncnet_v2.model"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(open(syncnet_checkpoint, "rb").read())
    assert weights.find_checkpoint(None) == str(cached)
    assert weights.find_checkpoint(syncnet_checkpoint) == syncnet_checkpoint
    assert os.environ["MUSEVIZ_OFFLINE"] == "1" and not weights._download_possible()
