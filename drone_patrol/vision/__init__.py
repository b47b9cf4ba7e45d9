"""Thermal vision: frames, detectors, georeferencing, tracking and incident rules.

The stages, each in its module, and the one value that flows between them:

- ``sources`` / ``radiometry`` / ``telemetry``: frames from files, videos and streams in
  Celsius, with the vehicle pose interpolated to each frame -> ``ThermalFrame``;
- ``detectors``: hot spots and warm bodies (and the ONNX person detector of ``onnx/``)
  -> ``Detections`` in pixels;
- ``georef``: ground east/north and a 1-sigma error from the pose -> ``Detections``;
- ``tracking``: ground tracks across frames and passes (``tracker_id``);
- ``incidents`` (with ``baseline``): hot-spot and crowd incidents, new/update/closed;
- ``pipeline``: the whole chain, ``VisionPipeline.process(frame) -> list[Alert]``;
- ``render``: pseudo-colour JPEGs for thumbnails and the live view;
- ``commands``: ``drone-patrol detect``.
"""
