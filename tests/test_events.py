"""Tests of spyketorch.coding.events: saccade event frames and tonic-format binning."""
import numpy as np
import pytest
import torch

from spyketorch.coding.events import events_to_frames, saccade_events, saccade_path

EV_DTYPE = [("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")]


def _digit_like(seed: int, n: int = 3, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    img = torch.zeros(n, size, size)
    img[:, 4:12, 5:11] = torch.randint(60, 256, (n, 8, 6), generator=g).float()
    return img


def test_blank_image_gives_no_events():
    assert saccade_events(torch.zeros(2, 12, 12), time_steps=5).sum() == 0


def test_closed_path_gives_as_many_on_as_off_events_per_pixel():
    """The triangle closes: log intensity ends where it started, so ON - OFF = 0 at every pixel."""
    ev = saccade_events(_digit_like(0), time_steps=6, contrast=0.15)
    off, on = ev[:, :, 0].sum(1), ev[:, :, 1].sum(1)  # tonic's order: polarity 0 (OFF) first
    assert on.sum() > 50
    assert torch.equal(on, off)


def test_moving_edge_polarity():
    """A bright half-plane moving right (first saccade) darkens the column at its edge: OFF events only."""
    img = torch.zeros(1, 10, 10)
    img[:, :, 5:] = 200.0
    ev = saccade_events(img, time_steps=3, amplitude=2.0, substeps=4)
    first = ev[0, 0]  # first saccade: dx grows from 0 to 1 (content moves right)
    assert first[0, :, 5].min() > 0 and first[1].sum() == 0  # OFF (channel 0) at column 5, no ON
    assert first[0, :, :5].sum() == 0 and first[0, 2:, 6:].sum() == 0  # (row 0: zeros enter from above)


def test_deterministic_and_batch_equals_one_by_one():
    imgs = _digit_like(1)
    batch = saccade_events(imgs, time_steps=5)
    assert torch.equal(batch, saccade_events(imgs, time_steps=5))
    for i in range(imgs.shape[0]):
        assert torch.equal(saccade_events(imgs[i], time_steps=5), batch[i])


def test_saccade_path_corners():
    p = saccade_path(12, 4.0)
    assert p[0].tolist() == [0.0, 0.0] and p[4].tolist() == [2.0, 4.0] and p[8].tolist() == [4.0, 0.0]


@pytest.mark.parametrize("bad", [dict(time_steps=0), dict(contrast=-1.0), dict(substeps=1.5)])
def test_saccade_bad_arguments(bad):
    with pytest.raises(ValueError):
        saccade_events(torch.zeros(4, 4), **bad)
    with pytest.raises(TypeError):
        saccade_events(np.zeros((4, 4)))


def test_events_to_frames_hand_built():
    ev = np.array([(0, 0, 0, 1), (2, 1, 5, 0), (2, 1, 9, 1), (2, 1, 10, 1), (7, 0, 3, 1)], dtype=EV_DTYPE)
    fr = events_to_frames(ev, (3, 2, 2), time_steps=2)  # (W, H, P) as in tonic; x=7 is off-sensor
    expect = torch.zeros(2, 2, 2, 3)  # [T, P, H, W], polarity 0 (OFF) in channel 0 as in tonic
    expect[0, 1, 0, 0] = 1  # t=0 ON at (y=0, x=0)
    expect[1, 0, 1, 2] = 1  # t=5 OFF in bin 1 (span 0..10)
    expect[1, 1, 1, 2] = 2  # t=9 and t=10 (end included) ON
    assert torch.equal(fr, expect)
    fr2 = events_to_frames(ev, (3, 2), time_steps=1, t_range=(4, 9))
    assert fr2.sum() == 2  # t=5 and t=9


def test_events_to_frames_roundtrip_of_saccade_frames():
    """Frames -> one event per count at the bin centre -> frames again."""
    frames = saccade_events(_digit_like(2, n=1)[0], time_steps=4)
    t, c, y, x = torch.nonzero(frames, as_tuple=True)
    counts = frames[t, c, y, x].long()
    rows = []
    for ti, ci, yi, xi, n in zip(t.tolist(), c.tolist(), y.tolist(), x.tolist(), counts.tolist()):
        rows += [(xi, yi, 100 * ti + 50, ci)] * n  # channel = polarity
    ev = np.array(rows, dtype=EV_DTYPE)
    assert torch.equal(events_to_frames(ev, (16, 16, 2), 4, t_range=(0, 400)), frames)


def test_events_to_frames_bad_input():
    with pytest.raises(TypeError):
        events_to_frames(np.zeros(3), (4, 4), 2)
    with pytest.raises(ValueError):
        events_to_frames(np.zeros(2, dtype=[("x", "<i2"), ("y", "<i2")]), (4, 4), 2)
    with pytest.raises(ValueError):
        events_to_frames(np.zeros(2, dtype=EV_DTYPE), (4, 4), 0)


# ----------------------------------------------------------------------------- against tonic itself
def _random_events(seed: int, n: int, w: int, h: int, t_max: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    ev["x"], ev["y"], ev["p"] = rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n)
    ev["t"] = np.sort(rng.integers(0, t_max, n))
    return ev


@pytest.mark.parametrize("seed, t_max, steps", [(0, 300_000, 15), (1, 1_000, 7), (2, 57, 9), (3, 12, 15)])
def test_tonic_binning_gives_tonics_frames(seed, t_max, steps):
    """binning='tonic' reproduces tonic.transforms.ToFrame(n_time_bins=T): channel order, floor-divided
    bin width, half-open bins, and the events it leaves out at the end of the span."""
    from tonic.transforms import ToFrame

    ev = _random_events(seed, 5000, 34, 30, t_max)
    theirs = torch.from_numpy(ToFrame(sensor_size=(34, 30, 2), n_time_bins=steps)(ev.copy()).astype(np.float32))
    ours = events_to_frames(ev, (34, 30, 2), steps, binning="tonic")
    assert ours.shape == theirs.shape == (steps, 2, 30, 34)
    assert torch.equal(ours, theirs)
    if ev["t"][-1] - ev["t"][0] >= steps:
        assert ours[:, 0].sum() > 0 and ours[:, 1].sum() > 0
    else:  # a span shorter than T units: tonic's bins have width 0, every frame is empty
        assert ours.sum() == 0


def test_span_binning_equals_tonic_but_for_the_end_event():
    """With a span that T divides, the default bins are tonic's: only the events at the span's end
    differ (tonic leaves them out, here they count in the last bin). Channels follow tonic either way."""
    from tonic.transforms import ToFrame

    ev = _random_events(4, 5000, 34, 34, 15_000)
    ev["t"][0], ev["t"][-1] = 0, 15_000                    # span 15,000 = 15 bins of 1,000
    ev["t"][-3:] = 15_000                                   # three events exactly at the end
    theirs = torch.from_numpy(ToFrame(sensor_size=(34, 34, 2), n_time_bins=15)(ev.copy()).astype(np.float32))
    ours = events_to_frames(ev, (34, 34, 2), 15)
    end = ev[ev["t"] == 15_000]
    extra = torch.zeros_like(ours)
    for x, y, p in zip(end["x"], end["y"], end["p"]):
        extra[14, p, y, x] += 1
    assert torch.equal(ours, theirs + extra)
    assert float(ours.sum()) == len(ev) and float(theirs.sum()) == len(ev) - 3


def test_polarity_conventions_follow_tonic():
    ev = np.array([(0, 0, 0.0, 0), (1, 0, 1.0, 1), (2, 0, 2.0, -1), (0, 1, 3.0, 1)],
                  dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<f8"), ("p", "<i1")])
    fr = events_to_frames(ev, (3, 2), 1)
    assert fr[0, 0].tolist() == [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]   # p = 0 and p = -1: channel 0
    assert fr[0, 1].tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]   # p = 1: channel 1
    evb = np.array([(0, 0, 0.0, False), (1, 0, 1.0, True)], dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<f8"), ("p", "?")])
    assert events_to_frames(evb, (2, 1), 1)[0, :, 0].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="binning"):
        events_to_frames(ev, (3, 2), 1, binning="bins")
    with pytest.raises(ValueError, match="sensor_size"):
        events_to_frames(ev, (3, 2, 1), 1)
    with pytest.raises(ValueError, match="t_range"):
        events_to_frames(ev, (3, 2), 1, t_range=(0.0, float("nan")))
