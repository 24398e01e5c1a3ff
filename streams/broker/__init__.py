"""Kafka plumbing shared by the processes: topics, consumer lag, reading and producing records."""
