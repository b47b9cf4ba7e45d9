"""Alerts to the command room: schema, durable outbox, MQTT publisher, broker, subscriber."""
