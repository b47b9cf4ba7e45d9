"""``vision``: detector thresholds, georeferencing error model, tracking and incident rules.

Defaults and why:

- hotspots: 80 C absolute (no legitimate street surface is that hot; grills and fires are),
  and a scene-relative threshold median + 6 * MAD-sigma + 15 C that segments the whole
  blob of anything clearly hotter than the street. Only blobs whose peak reaches
  ``hotspot_alert_c`` can become incidents, so warm engines (50-70 C) stay detections.
- warm bodies: 24-40 C and at least 4 C above the scene median (people seen from above at
  night show 27-34 C over a 12-20 C street); 0.03-0.6 m^2 per person.
- pose uncertainty: 1 degree attitude, 2 m horizontal and 1 m vertical position, a
  consumer GNSS/IMU; alerts carry the 95 % circle of that error.
- vehicle heat: a hot spot on a detected vehicle (engine, exhaust, a sun-warmed roof; hoods
  read 80-90 C after a drive) is not an incident below ``vehicle_fire_c`` (150 C: burning
  car parts, not a running engine), unless it keeps rising by ``vehicle_rise_c`` over the
  time it is watched.
- automatic-gain video (8-bit frames without temperatures): people and vehicles come from
  the learned detector, hot spots only from blobs at full white (``agc_saturation_level``),
  reported without a temperature and at a lower confidence.
- crowds: a DBSCAN cluster (eps 2 m, a core point needs 3 people) of at least 6 people
  within 6 m of its centre, seen for 4 s. A person at 40 m altitude stays about 5 s in a
  50-degree camera's view at 6 m/s, so one pass can confirm a gathering while people
  crossing each other's path (a 1-2 s cluster) do not.
"""

from __future__ import annotations

from pydantic import Field

from drone_patrol.core.config._base import Section
from drone_patrol.core.config.onnx_detector import OnnxDetectorConfig


class VisionConfig(Section):
    """Thresholds of the thermal pipeline; see drone_patrol.vision for what each does."""

    # hotspot detector
    hotspot_threshold_c: float = 80.0
    hotspot_mad_k: float = Field(default=6.0, gt=0)
    hotspot_margin_c: float = Field(default=15.0, ge=0)
    hotspot_min_area_m2: float = Field(default=0.01, ge=0)
    hotspot_max_area_m2: float = Field(default=150.0, gt=0)
    hotspot_alert_c: float | None = None  # None: hotspot_threshold_c
    # vehicle heat: hot spots on a detected vehicle
    vehicle_fire_c: float = Field(default=150.0, gt=0)
    vehicle_rise_c: float = Field(default=25.0, gt=0)
    vehicle_box_margin: float = Field(default=0.15, ge=0, le=1)  # a vehicle's box grown by this fraction
    # automatic-gain (8-bit) video
    agc_saturation_level: int = Field(default=250, ge=1, le=255)
    agc_saturation_max_fraction: float = Field(default=0.2, gt=0, le=1)
    learned_detector_on_video: bool = True  # the shipped thermal model on AGC video when onnx_detector is unset
    # warm-body detector
    body_min_c: float = 24.0
    body_max_c: float = 40.0
    body_min_delta_c: float = Field(default=4.0, ge=0)
    body_min_area_m2: float = Field(default=0.03, gt=0)
    body_max_area_m2: float = Field(default=0.6, gt=0)
    body_typical_area_m2: float = Field(default=0.1, gt=0)  # blobs past 1.5 times this are searched for heads
    body_max_blob_m2: float = Field(default=30.0, gt=0)
    body_halo_m: float = Field(default=0.3, ge=0)  # warm pixels this close to hotter ones are a halo
    body_head_contrast_c: float = Field(default=1.0, ge=0)
    body_head_spacing_m: float = Field(default=0.35, gt=0)
    # frames
    saturated_fraction: float = Field(default=0.5, gt=0, le=1)
    saturation_c: float | None = None  # None: from the source's TLinear range
    max_telemetry_age_s: float = Field(default=1.0, gt=0)
    # georeferencing
    terrain_height_m: float | None = None  # AMSL ground height; None: the home altitude
    max_range_m: float = Field(default=300.0, gt=0)
    attitude_sigma_deg: float = Field(default=1.0, ge=0)
    position_sigma_m: float = Field(default=2.0, ge=0)
    altitude_sigma_m: float = Field(default=1.0, ge=0)
    # tracking
    track_gate_m: float = Field(default=3.0, gt=0)
    track_confirm_hits: int = Field(default=3, ge=1)
    track_confirm_window: int = Field(default=5, ge=1)
    track_max_misses: int = Field(default=8, ge=1)
    track_max_miss_s: float = Field(default=1.5, gt=0)
    track_lifetime_s: float = Field(default=300.0, gt=0)
    person_merge_m: float = Field(default=0.4, gt=0)  # detections of several detectors closer than this: one person
    person_max_speed_m_s: float = Field(default=2.5, gt=0)
    # incident rules
    heat_source_margin_m: float = Field(default=1.5, ge=0)
    baseline_cell_m: float = Field(default=2.0, gt=0)
    baseline_excess_c: float = Field(default=80.0, ge=0)
    baseline_max_patrols: int = Field(default=10, ge=1)
    baseline_min_patrols: int = Field(default=1, ge=1)
    crowd_min_people: int = Field(default=6, ge=2)
    crowd_eps_m: float = Field(default=2.0, gt=0)
    crowd_core_people: int = Field(default=3, ge=1)
    crowd_radius_m: float = Field(default=6.0, gt=0)
    crowd_min_duration_s: float = Field(default=4.0, ge=0)
    crowd_person_recent_s: float = Field(default=20.0, gt=0)
    crowd_close_after_s: float = Field(default=30.0, gt=0)
    # a hot spot whose tracks ended stays open this long after it was last seen (smoke, a pass of
    # the camera) and a track that comes back near it joins it, rather than closing and reopening
    hotspot_close_after_s: float = Field(default=30.0, ge=0)
    crowd_eval_interval_s: float = Field(default=0.5, ge=0)  # crowds change slowly: cluster twice a second
    update_min_interval_s: float = Field(default=5.0, ge=0)
    thumbnail_max_width_px: int = Field(default=160, ge=32)
    # the learned person detector beside the warm-body one: None for temperature only; {} for the shipped model
    onnx_detector: OnnxDetectorConfig | None = None
