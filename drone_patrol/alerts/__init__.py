"""Alerts to the command room: schema, durable outbox, MQTT publisher, broker, subscriber.

The drone side::

    from drone_patrol.alerts.publisher import AlertPublisher
    pub = AlertPublisher(settings.alerts, site, drone).start()   # a missing broker is not fatal
    event_id = pub.publish_alert(alert)      # committed to the SQLite outbox first, then QoS 1
    event_ids = pub.publish_alerts(frame_alerts)   # several: one commit and one sync, all or none
    pub.publish_status("patrolling", battery_percent=71)          # retained; last will: offline
    pub.publish_telemetry(vehicle_state)     # QoS 0, about telemetry_hz
    pub.on_ack(callback)                     # AlertAck from the command room
    pub.on_command(callback)                 # eyes-on / release commands (or the CommandSchemaError)
    pub.on_command_delivery(handler)         # the same, PUBACK only once handler calls delivery.taken()
    pub.publish_command_result(command_id, "accepted")   # the answer, QoS 1 through the outbox
    pub.stop()

The command room::

    from drone_patrol.alerts.subscriber import AlertSubscriber
    sub = AlertSubscriber("mqtts://broker:8883", site="+", on_alert=show, archive_path="room.sqlite").start()
    sub.ack(event_or_incident_id, by="officer-7")
    room = CommandClient(url, site="dongxi", username="command-room", password=pw).start(wait_s=5)
    cid = room.eyes_on("drone-1", lat, lon, duration_s=120, requested_by="officer-7")   # the drone answers
    room.wait_for(cid, "on_station", timeout_s=300); room.release("drone-1", cid, "officer-7")

Modules: :mod:`.schema` (build and parse events; the models in :mod:`.models`, the JSON
Schema files in ``schemas/``), :mod:`.outbox`, :mod:`.publisher` (on :mod:`.link`,
:mod:`.pump` and :mod:`.delivery`), :mod:`.subscriber` (with :mod:`.archive`), :mod:`.broker` (embedded amqtt),
:mod:`.connection` (URLs, TLS, credentials, topics, typed errors), :mod:`.watch` and
:mod:`.commands` (``drone-patrol alerts watch|ack|eyes-on|release``, ``drone-patrol broker``),
:mod:`.eyes_on` (command and result events, their schemas and parser) and
:mod:`.command_client` (the room's side of commands). Broker setup: ``configs/mosquitto/README.md``.
"""
