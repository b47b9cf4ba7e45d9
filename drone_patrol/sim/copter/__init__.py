"""A simulated ArduCopter that speaks MAVLink 2 over TCP, for CI and the embedded demo.

``SimulatedCopter(home=GeoPoint(...)).start()`` listens like SITL's serial0 (TCP,
several clients at once, optionally UDP out to a ground station) as system 1,
component 1, and flies a point-mass copter in simulated time (``speedup``). A
controller, MAVProxy or QGroundControl cannot tell it from ArduCopter SITL for
what a patrol controller uses. ArduPilot's source (GCS_MAVLink, AP_Mission,
ArduCopter modes, events.cpp, fence.cpp, AP_Arming) is the reference.

Mirrored from ArduCopter (4.6):

- HEARTBEAT 1 Hz: MAV_TYPE_QUADROTOR, MAV_AUTOPILOT_ARDUPILOTMEGA, custom_mode numbers
  (STABILIZE 0, ALT_HOLD 2, AUTO 3, GUIDED 4, LOITER 5, RTL 6, CIRCLE 7, LAND 9,
  POSHOLD 16, BRAKE 17, SMART_RTL 21), base_mode as GCS_MAVLINK_Copter builds it
  (custom, stabilize, manual-input, guided for navigation modes, armed), system_status
  STANDBY on the ground, ACTIVE in the air, CRITICAL during a failsafe.
- Mission protocol for mission, fence and rally (``transfer.py``): legacy MISSION_REQUEST
  during uploads, MISSION_ITEM_INT or MISSION_ITEM answers, re-request after 1 s, cancel
  after 8 s (MAV_MISSION_OPERATION_CANCELLED, "Mission upload timeout"), DENIED to a
  second system/component, INVALID_SEQUENCE for an unexpected seq (the upload goes on),
  NO_SPACE with "Only N items are supported" (mission 724 with home, fence 70, rally 46),
  UNSUPPORTED_FRAME, UNSUPPORTED for unknown commands, INVALID_PARAM5_X/6_Y for bad
  positions, ERROR for an item outside an upload or a DO_JUMP to nowhere, "Flight plan
  received" on completion; fence and rally need MAVLink 2 ("Need mavlink2 for item
  transfer"); seq 0 reads back as home (frame GLOBAL, AMSL); downloads report frames
  0/3/10 for uploads in 5/6/11; waypoints keep only their hold time (Copter's storage);
  MISSION_CLEAR_ALL refused (ERROR) while a mission runs armed; uploads are not atomic.
- MISSION_CURRENT (seq, total without home, mission_state, mission_mode),
  MISSION_ITEM_REACHED, "Mission: N <type>" and "Reached command #N" texts; DO_JUMP with
  repeat counts; DO_CHANGE_SPEED, DO_SET_ROI_LOCATION/DO_SET_ROI/ROI_NONE, DO_FENCE_ENABLE;
  NAV_WAYPOINT (hold time, WPNAV_RADIUS for pass-through), LOITER_TIME, LOITER_TURNS,
  LOITER_UNLIM, TAKEOFF, LAND (here or at a location), RETURN_TO_LAUNCH, NAV_DELAY;
  a new upload during AUTO restarts the current navigation command; MIS_RESTART.
- Commands (COMMAND_LONG and COMMAND_INT, COMMAND_ACK to the sender): ARM_DISARM (21196
  forces), DO_SET_MODE and SET_MODE, NAV_TAKEOFF (GUIDED, LOITER, ALT_HOLD, POSHOLD; armed
  and landed only), MISSION_START (params 1 and 2 must be 0, else DENIED; sets auto-armed),
  DO_SET_MISSION_CURRENT, DO_CHANGE_SPEED, DO_SET_ROI_LOCATION, DO_SET_ROI_NONE,
  NAV_RETURN_TO_LAUNCH, NAV_LAND, DO_REPOSITION, DO_FENCE_ENABLE, SET_MESSAGE_INTERVAL
  (DENIED for unknown ids), REQUEST_MESSAGE (FAILED for unknown ids), REQUEST_AUTOPILOT_
  CAPABILITIES; anything else: MAV_RESULT_UNSUPPORTED. Also MISSION_SET_CURRENT,
  REQUEST_DATA_STREAM, SET_POSITION_TARGET_GLOBAL_INT (GUIDED position),
  MISSION_ITEM_INT with current=2/3 (GUIDED go-to / altitude change), RC_CHANNELS_OVERRIDE
  (throttle, RC3), TIMESYNC.
- Arming (AP_Arming_Copter): "PreArm: AHRS: EKF3 not started" before the EKF starts,
  "PreArm: GPS 1: Bad fix", "Arm: Need Position Estimate" until the EKF uses GPS
  (``gps_ready_s``, ``ekf_ready_s`` simulated seconds after start) in modes that need a
  position or with a fence, "PreArm: Battery 1 low voltage failsafe", "PreArm: Vehicle
  breaching <types> fence", "Arm: <Mode> mode not armable" (RTL, LAND, CIRCLE, SMART_RTL,
  and AUTO unless AUTO_OPTIONS bit 0); a GCS may not disarm a flying copter unless forced;
  "Arming motors"/"Disarming motors"; auto-disarm after DISARM_DELAY (10 s) landed with the
  throttle low; LAND and RTL disarm on touchdown; a finished mission disarms when landed
  and loiters (still AUTO) when flying.
- Modes: "Auto: Missing Takeoff Cmd" and "Mode change to AUTO failed: init failed" when
  entering AUTO armed on the ground without a takeoff next, or with an empty mission;
  modes that need a position are refused without one; in AUTO on the ground the mission
  waits for MISSION_START (or a takeoff); RTL climbs to max(RTL_ALT, current + RTL_CLIMB_MIN),
  capped under FENCE_ALT_MAX, returns to home or the nearest rally point, loiters
  RTL_LOIT_TIME, then lands (or holds at RTL_ALT_FINAL); LAND descends at
  LAND_SPEED_HIGH/WPNAV_SPEED_DN then LAND_SPEED below LAND_ALT_LOW; ALT_HOLD, LOITER,
  POSHOLD and CIRCLE climb at the rate the throttle stick asks (``pilot.py``: RC3_MIN/MAX/DZ,
  THR_DZ around mid-stick, PILOT_SPEED_UP/DN, PILOT_ACCEL_Z); with no RC the stick rests
  low (1000 us) as on SITL, so they sink at 2.5 m/s and land, STABILIZE drops; BRAKE
  holds; CIRCLE (``circle.py``) centres its orbit CIRCLE_RADIUS
  ahead of the stopping point along the heading (CIRCLE_OPTIONS bit 2: at it), starts on
  the perimeter behind the nose, turns at CIRCLE_RATE limited to sqrt(0.5 * WPNAV_ACCEL *
  radius) and WPNAV_SPEED, faces the centre (bit 1: the direction of travel), and turns
  on the spot with a radius of 0; SET_POSITION_TARGET_GLOBAL_INT in GUIDED (``guided.py``):
  position, position + velocity (the target moves on until GUID_TIMEOUT), velocity, yaw
  and yaw rate, a stop on bad input; a new GUIDED target without a yaw
  (DO_REPOSITION, SET_POSITION_TARGET_GLOBAL_INT) resets the yaw to WP_YAW_BEHAVIOR,
  dropping an ROI, and DO_REPOSITION outside GUIDED without its change-mode flag is DENIED.
- Parameters (``params.py``): PARAM_REQUEST_LIST/READ, PARAM_SET answered by PARAM_VALUE
  to all links, ArduPilot names, units and defaults, integer types truncated, unknown
  names ignored.
- Telemetry at SR0_* rates in simulated time, per connection (``telemetry.py``):
  GLOBAL_POSITION_INT, ATTITUDE, VFR_HUD, SYS_STATUS, BATTERY_STATUS, GPS_RAW_INT,
  EKF_STATUS_REPORT, MISSION_CURRENT, NAV_CONTROLLER_OUTPUT, SYSTEM_TIME, HOME_POSITION,
  EXTENDED_SYS_STATE; AUTOPILOT_VERSION and GPS_GLOBAL_ORIGIN on request; STATUSTEXT.
- Failsafes (``failsafes.py``): battery (BATT_LOW_VOLT for BATT_LOW_TIMER s, BATT_LOW_MAH,
  critical levels, BATT_FS_LOW_ACT/CRT_ACT), GCS (FS_GCS_ENABLE, FS_GCS_TIMEOUT, heartbeats
  from SYSID_MYGCS only, FS_OPTIONS continue-in-auto/landing/pilot-modes, 16 by default as
  ArduCopter), fence (FENCE_ENABLE or DO_FENCE_ENABLE, FENCE_TYPE, FENCE_ACTION, 20 m backup
  fence, land beyond 100 m), with
  ArduCopter's texts ("Battery 1 is low 10.40V used 3000 mAh", "Battery Failsafe",
  "GCS Failsafe", "GCS Failsafe Cleared", "Fence Breached"); EKF (GPS lost in flight:
  "EKF variance", "EKF Failsafe: changed to LAND Mode", FS_EKF_ACTION).
- Malformed or unknown packets are counted (``SimulatedCopter.counters``) and dropped;
  messages for another system or component are ignored.

Checked against ArduCopter SITL (ArduPilot master of October 2025, ``--model +
--speedup 10 -w``) with ``tests/sim/conformance.py`` and two ad-hoc probes: the same
answers for HEARTBEAT identity and base_mode, zero default stream rates (HEARTBEAT,
HOME_POSITION, GPS_GLOBAL_ORIGIN and TIMESYNC only, until REQUEST_DATA_STREAM), the
parameter defaults the controller reads, NO_SPACE texts, UNSUPPORTED/DENIED/FAILED codes,
legacy MISSION_REQUEST during uploads, download frames and stored params (hold time
only, frames 0/3), MISSION_CURRENT fields, re-request every 1.0 s and CANCELLED after
8 requests / 8 s, the arming refusals in SITL's boot order, "Missing Takeoff Cmd",
MISSION_START params, deferred MISSION_ITEM_REACHED (a waypoint followed at once by a
"do" command is reported by the do command's seq only), "Mission: N <type>" order (do
commands start when the previous navigation command ends), LOITER sinking at 2.5 m/s
without RC, RTL landing and disarm, GCS failsafe after FS_GCS_TIMEOUT with "GCS Failsafe"
then "GCS Failsafe Cleared".

Not mirrored (differences from SITL):

- Capacities: the mission holds 724 items (16 KiB-storage boards) where this SITL build
  stops at 650; fence 70 and rally 46 as SITL.
- Parameter names are ArduCopter 4.6's: SITL master renamed SYSID_THISMAV and SYSID_MYGCS
  to MAV_SYSID and MAV_GCS_SYSID. FENCE_RADIUS defaults to 300 (AC_Fence) where SITL's
  autotest defaults file sets 150.
- SITL's serial0 accepts one TCP client at a time (a second GCS uses SERIAL1, port + 2,
  or a router); the simulator serves several clients on one port.
- SITL boots when the first client connects; the simulator's clock starts at ``start()``.
  SITL's EKF takes about 45 simulated seconds to use GPS; the simulator takes
  ``ekf_ready_s`` (6 s by default). Home is exactly the given point (SITL's wanders by
  centimetres with GPS noise).
- Streams: no RAW_IMU, SCALED_*, AHRS/AHRS2, SIMSTATE, ESC telemetry, TERRAIN_* messages.

- Flight dynamics are a point mass with speed, acceleration, climb and yaw-rate limits;
  no motors, no attitude control loop, no terrain (GLOBAL_TERRAIN_ALT is treated as
  relative), no S-curves (waypoints are joined by straight lines, braking to stop where
  ArduCopter stops); CIRCLE tracks its moving target point as a point mass does.
- SmartRTL keeps no path: SMART_RTL flies RTL, and SmartRTL failsafe actions fall back
  to RTL or LAND with ArduCopter's "SmartRTL Unavailable" texts.
- The EKF failsafe is simplified (GPS loss for 2 s, no variances); no GPS glitch
  handling, radio (RC) failsafe, terrain, ADSB, compass or
  vibration checks; no DO_SET_HOME (UNSUPPORTED), no MISSION_WRITE_PARTIAL_LIST, no
  mission signing, no FTP, no parameter persistence across runs; pre-arm failures are
  reported when arming is tried, not repeated every 30 s.
- SITL keeps sending MAVLink 2 on serial0 whatever the peer sends; the simulator answers
  a peer that speaks MAVLink 1 in MAVLink 1 (as a SERIALn_PROTOCOL 1 port does), which is
  how the "fence and rally need MAVLink 2" refusal can be exercised.
- Home is the given point and is set at the first 3D fix; arming does not move it.
- Waypoint legs are flown at a constant acceleration (WPNAV_ACCEL) with no jerk limit,
  but never faster than ArduCopter's jerk-limited S-curve of that leg peaks
  (WPNAV_JERK, ``core/wpnav.py``): a 10 m leg between orbit points at about 2.9 m/s, as
  SITL flies it (2.7 m/s measured), not at WPNAV_SPEED.
- The battery is SITL's default quad (``battery.py``): current from the thrust of a 3 kg
  frame (about 28 A in a hover, 14 % of BATT_CAPACITY 3300 mAh a minute), a voltage that
  stays at SIM_BATT_VOLTAGE unless SIM_BATT_CAP_AH gives the pack a capacity.
"""

from drone_patrol.sim.copter.modes import CopterMode
from drone_patrol.sim.copter.vehicle import SimulatedCopter

__all__ = ["CopterMode", "SimulatedCopter"]
