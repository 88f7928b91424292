"""Builds the hardware seams from the configuration; the only place that reads [camera]/[gpio].

Tests and the demo pass their own camera or pin factory instead.
"""

from __future__ import annotations

from typing import Any

from capture.camera import Camera
from capture.controls import CaptureButton, StatusLight, make_pin_factory
from capture.fake import FakeCamera, Scene
from capture.picamera2_camera import Picamera2Camera

from .config import Config


def build_camera(cfg: Config, scene: Scene | None = None) -> Camera:
    cam = cfg.camera
    still = (cam.still_width, cam.still_height)
    lores = (cam.lores_width, cam.lores_height)
    if cam.backend == "fake":
        return FakeCamera(scene or Scene(), still_size=still, lores_size=lores,
                          jpeg_quality=cam.jpeg_quality)
    return Picamera2Camera(still_size=still, lores_size=lores, jpeg_quality=cam.jpeg_quality,
                           autofocus=cam.autofocus)


def build_pin_factory(cfg: Config) -> Any:
    return make_pin_factory(cfg.gpio.pin_factory)


def build_button(cfg: Config, pin_factory: Any) -> CaptureButton:
    gpio = cfg.gpio
    return CaptureButton(gpio.button_pin, hold_seconds=gpio.hold_seconds,
                         bounce_seconds=gpio.bounce_seconds, pin_factory=pin_factory)


def build_light(cfg: Config, pin_factory: Any) -> StatusLight:
    gpio = cfg.gpio
    return StatusLight(
        kind=gpio.led_kind,
        pin=gpio.led_pin,
        rgb_pins=(gpio.led_red_pin, gpio.led_green_pin, gpio.led_blue_pin),
        active_high=gpio.led_active_high,
        buzzer_pin=gpio.buzzer_pin if gpio.buzzer else None,
        pin_factory=pin_factory,
    )
