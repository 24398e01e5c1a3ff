"""The functional core: pure detection logic, no Kafka, no Redis, no network.

A folder per capability: `text/` (normalisation, entities, indicators), `images/` (hashes and
banks), `linking/` (identifiers, clusters, templates), `scoring/` (the model and the scorer),
`alerts/` (alert policy and routing); `pipeline.py` puts them together for one ad, and
`validation.py` / `deadletter.py` describe what enters and what is refused.
"""
