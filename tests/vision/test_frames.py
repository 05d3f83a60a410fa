"""Frame sources: dataset folders, image sequences, radiometric arrays, video, simulator."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gasguard.vision.frames import (
    FrameSource,
    ImageFolderSource,
    ImageSequenceSource,
    RadiometricSource,
    SimulatorSource,
    VideoSource,
    open_source,
)


def test_dataset_folder_yields_labelled_frames_in_class_then_serial_order(shared_data: Path) -> None:
    src = open_source(str(shared_data / "multimodalgasdata" / "thermal-sample"))
    assert isinstance(src, ImageFolderSource) and isinstance(src, FrameSource)
    frames = list(src)
    assert [(f.meta["label"], f.meta["serial"]) for f in frames] == [
        ("NoGas", 73),
        ("NoGas", 74),
        ("NoGas", 75),
        ("NoGas", 76),
        ("Perfume", 49),
        ("Perfume", 50),
        ("Perfume", 51),
        ("Perfume", 52),
        ("Perfume", 53),
        ("Smoke", 33),
        ("Smoke", 82),
    ]
    assert [f.index for f in frames] == list(range(11))
    assert frames[0].kind == "bgr" and frames[0].image.shape == (640, 480, 3)
    assert frames[1].timestamp == pytest.approx(2.0)  # one frame every ~2 s, as recorded


def test_greyscale_sequence_is_read_as_grey(tmp_path: Path) -> None:
    for i in range(3):
        img = np.full((240, 320), 40 * i, np.uint8)
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))  # saved as RGB
    src = open_source(str(tmp_path))
    assert isinstance(src, ImageSequenceSource)
    frames = list(src)
    assert [f.kind for f in frames] == ["grey"] * 3
    assert [int(f.image[0, 0]) for f in frames] == [0, 40, 80]
    assert frames[2].timestamp == pytest.approx(2 / 15)


def test_radiometric_npy_and_multipage_tiff(tmp_path: Path) -> None:
    data = (np.arange(3 * 8 * 6).reshape(3, 8, 6) + 29315).astype(np.uint16)
    np.save(tmp_path / "clip.npy", data)
    frames = list(open_source(str(tmp_path / "clip.npy")))
    assert len(frames) == 3 and frames[1].kind == "radiometric"
    assert np.array_equal(frames[2].image, data[2])
    assert cv2.imwritemulti(str(tmp_path / "clip.tiff"), list(data))
    tiff = list(RadiometricSource(tmp_path / "clip.tiff"))
    assert [f.image.dtype for f in tiff] == [np.uint16] * 3
    assert np.array_equal(tiff[1].image, data[1])


def test_video_file_through_opencv(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), (i * 40, 80, 160), np.uint8))
    writer.release()
    src = open_source(str(path))
    assert isinstance(src, VideoSource) and not src.live
    frames = list(src)
    assert len(frames) == 5 and frames[0].image.shape == (48, 64, 3)
    assert frames[4].timestamp == pytest.approx(0.4, abs=0.01)
    assert len(list(VideoSource(str(path), max_frames=2))) == 2


def test_stream_urls_and_devices_choose_the_video_source() -> None:
    rtsp = open_source("rtsp://camera.local/stream1")
    assert isinstance(rtsp, VideoSource) and rtsp.live
    usb = open_source("usb:0")
    assert isinstance(usb, VideoSource) and usb.uri == 0 and usb.live
    with pytest.raises(FileNotFoundError):
        open_source("/no/such/file.mp4")


def test_simulator_source_yields_frames_with_ground_truth() -> None:
    src = open_source("sim://seed=4,frames=3,height=60,width=80,mode=colour")
    assert isinstance(src, SimulatorSource)
    frames = list(src)
    assert len(frames) == 3 and frames[0].kind == "bgr" and frames[0].image.shape == (60, 80, 3)
    assert frames[0].meta["mask"].shape == (60, 80)
    grey = list(SimulatorSource(seed=4, frames=2, height=60, width=80))
    assert grey[0].kind == "grey" and grey[0].image.dtype == np.uint8
