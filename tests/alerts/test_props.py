"""PUBLISH properties packed once: the same bytes as paho's own packing, and readable like it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from drone_patrol.alerts.props import PublishProperties

_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=300)  # MQTT strings: no controls


@given(content_type=_text.filter(bool), expiry_s=st.integers(0, 2**32 - 1), event_id=st.none() | _text)
def test_packed_like_paho(content_type: str, expiry_s: int, event_id: str | None) -> None:
    theirs = Properties(PacketTypes.PUBLISH)
    theirs.ContentType = content_type
    if expiry_s > 0:
        theirs.MessageExpiryInterval = expiry_s
    if event_id:
        theirs.UserProperty = [("ce-id", event_id)]
    ours = PublishProperties(content_type, expiry_s, event_id)
    assert ours.pack() == theirs.pack()
    back = Properties(PacketTypes.PUBLISH)
    back.unpack(ours.pack())
    assert back.ContentType == content_type
    assert getattr(back, "MessageExpiryInterval", 0) == expiry_s
    assert getattr(back, "UserProperty", None) == ([("ce-id", event_id)] if event_id else None)


def test_reads_like_paho() -> None:
    props = PublishProperties("application/json", 10, "e-1")
    assert props.ContentType == "application/json" and props.MessageExpiryInterval == 10
    assert "ce-id" in str(props) and props.json()["UserProperty"] == [("ce-id", "e-1")]
