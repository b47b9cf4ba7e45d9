"""The board id a vehicle is known by (AUTOPILOT_VERSION's uid2, else uid)."""

from __future__ import annotations

from drone_patrol.controller.identity import board_id


def test_two_stm32_boards_sharing_wafer_position_and_number_differ() -> None:
    # STM32 96-bit id: X/Y on the wafer (4 bytes), wafer number (1), lot number (7 ASCII bytes);
    # uid2 is 18 bytes, the id's 12 and zero padding
    a = bytes([0x1F, 0x00, 0x2A, 0x00, 0x07]) + b"WLT1234" + bytes(6)
    b = bytes([0x1F, 0x00, 0x2A, 0x00, 0x07]) + b"WLT9876" + bytes(6)
    assert board_id(list(a)) != board_id(list(b))  # pymavlink hands the array over as a list
    assert board_id(list(a)) == a[:12].hex() and len(board_id(list(a))) == 24
    assert board_id(list(a))[:12] == board_id(list(b))[:12]  # what a 12-digit prefix could not tell apart


def test_sitl_instances_differ_in_the_first_byte_and_uid_is_the_fallback() -> None:
    machine = b"4d12193c7c4c5404a"  # the first 17 characters of /etc/machine-id; SITL adds -I to the first
    inst0 = machine + b"\0"
    inst1 = bytes([machine[0] + 1]) + machine[1:] + b"\0"
    assert board_id(inst0) == machine.hex() and board_id(inst0) != board_id(inst1)
    assert board_id([0] * 18, 0x1234) == "1234"
    assert board_id(None) == "" and board_id([0] * 18, 0) == ""
