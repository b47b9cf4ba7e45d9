"""MAVLink controller: link, mission transfer, commands, telemetry, failsafes, patrol executor."""
