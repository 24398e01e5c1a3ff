"""The local stack (`vigil stack up|down|status`): Kafka in KRaft mode and Redis on 127.0.0.1."""
