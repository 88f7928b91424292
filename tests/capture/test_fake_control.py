"""The fake set-up's control socket: a scripted scene and an outside trigger for the button."""

import json
import socket
import time

import pytest
from gpiozero.pins.mock import MockFactory

from capture.controls import CaptureButton
from capture.fake import FakeCamera, Scene, Symbol
from capture.fake_control import FakeControlServer, scene_from


@pytest.fixture
def rig(tmp_path):
    factory = MockFactory()
    button = CaptureButton(17, bounce_seconds=0.01, hold_seconds=0.5, pin_factory=factory)
    camera = FakeCamera(still_size=(320, 240), lores_size=(160, 120))
    server = FakeControlServer(tmp_path / "c.sock", camera, button.pin, hold_seconds=0.5,
                               handlers={"echo": lambda words: " ".join(words)})
    yield server, camera, button
    server.close()
    button.close()
    factory.reset()


def ask(path, *lines):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        stream = sock.makefile("rwb", buffering=0)
        answers = []
        for line in lines:
            stream.write(line.encode() + b"\n")
            answers.append(stream.readline().decode().strip())
        return answers


def test_scenes_come_from_the_script(rig):
    server, camera, _button = rig
    symbol = {"symbology": "qrcode", "content": "hello", "center": [0.5, 0.5]}
    assert ask(server.path, "scene symbols " + json.dumps([symbol])) == ["ok"]
    assert camera.scene == Scene(symbols=(Symbol("qrcode", "hello", center=(0.5, 0.5)),))
    assert ask(server.path, "scene page", "scene empty") == ["ok", "ok"]
    assert camera.scene == Scene()
    assert scene_from(["page"]).page is not None


def test_press_and_hold_drive_the_mock_pin(rig):
    server, _camera, button = rig
    clicks, holds = [], []
    button.when_clicked = lambda: clicks.append(1)
    button.when_held = lambda: holds.append(1)
    assert ask(server.path, "press 0.05") == ["ok"]
    assert ask(server.path, "hold") == ["ok"]
    deadline = time.monotonic() + 3
    while (not clicks or not holds) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert clicks == [1] and holds == [1]


def test_bad_commands_answer_and_the_server_goes_on(rig):
    server, _camera, _button = rig
    answers = ask(server.path, "scene symbols [1]", "fly", "", "echo a b", "scene nope")
    assert answers[0].startswith("error ")
    assert answers[1] == "error unknown command 'fly'"
    assert answers[2] == "error empty command"
    assert answers[3] == "ok a b"
    assert answers[4].startswith("error ")
    assert oct(server.path.stat().st_mode & 0o777) == "0o600"
