"""``drone-patrol detect-people`` (the former name of ``detect-objects``) with the COCO model on real image files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
from click.testing import CliRunner

from drone_patrol.core.errors import InputError, ModelError
from drone_patrol.vision.onnx.commands import detect_people
from tests.vision_onnx.conftest import load_photos


def test_detect_people_prints_json_and_writes_annotated_images(tmp_path: Path) -> None:
    photo = load_photos()["astronaut"]
    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    result = CliRunner().invoke(
        detect_people, [str(image), "--model", "coco", "--out-dir", str(tmp_path / "out"), "--threads", "1"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.strip().splitlines()[0])
    assert record["file"] == str(image) and record["people"] == 1
    x0, _, x1, y1 = record["detections"][0]["box"]
    assert x0 < 60 and x1 > 300 and y1 > 450 and record["detections"][0]["class"] == "person"
    assert cv2.imread(record["annotated"]) is not None


def test_detect_people_refuses_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(detect_people, [str(tmp_path / "none.png")])
    assert isinstance(missing.exception, InputError) and "none.png: no such image file or folder" in str(
        missing.exception
    )
    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    bad = runner.invoke(detect_people, [str(junk)])
    assert isinstance(bad.exception, InputError) and "not an image OpenCV can read" in str(bad.exception)
    size = runner.invoke(detect_people, [str(junk), "--input-size", "500", "640"])
    assert isinstance(size.exception, InputError)
    assert str(size.exception) == "detect-objects: input_size must be (height, width) multiples of 32, got (500, 640)"
    model = runner.invoke(detect_people, [str(junk), "--model", str(tmp_path / "m.onnx")])
    assert isinstance(model.exception, ModelError) and "m.onnx: model file not found" in str(model.exception)
