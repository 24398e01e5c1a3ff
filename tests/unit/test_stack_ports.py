"""The stack warns about listening ports a reconnecting client could take from it."""

from __future__ import annotations

from streams.config import Settings
from streams.stack import launcher as stack


def test_ports_inside_the_ephemeral_range_are_named(tmp_path, monkeypatch):
    proc_file = tmp_path / "ip_local_port_range"
    proc_file.write_text("32768\t60999\n")
    assert stack.ephemeral_range(proc_file) == range(32768, 61000)
    assert stack.ephemeral_range(tmp_path / "missing") is None
    monkeypatch.setattr(stack, "ephemeral_range", lambda: range(32768, 61000))
    for name in ("KAFKA_BOOTSTRAP", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VIGIL_KAFKA_PORT", "39592")
    monkeypatch.setenv("VIGIL_KAFKA_CONTROLLER_PORT", "19093")
    monkeypatch.setenv("VIGIL_REDIS_PORT", "60999")
    warnings = stack.warn_if_ephemeral(Settings())
    assert [w.split("=")[0] for w in warnings] == ["VIGIL_REDIS_PORT", "VIGIL_KAFKA_PORT"]
    monkeypatch.setenv("VIGIL_KAFKA_PORT", "19092")
    monkeypatch.setenv("VIGIL_REDIS_PORT", "16379")
    assert stack.warn_if_ephemeral(Settings()) == []


def test_a_new_kafka_cluster_id_never_starts_with_a_dash(monkeypatch):
    """`kafka-storage format` reads an id starting with "-" as an option (a CI run failed so)."""
    import uuid

    drawn = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x10" * 16)])
    monkeypatch.setattr(stack.uuid, "uuid4", lambda: next(drawn))
    cluster_id = stack.new_cluster_id()
    assert cluster_id == "EBAQEBAQEBAQEBAQEBAQEA"
    assert len(cluster_id) == 22
