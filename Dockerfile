# One image for every vigil process: `vigil worker` (default), `vigil dispatch`, `vigil ingest --http`,
# `vigil store`, `vigil console`.
# Used by deploy/docker-compose.yml and deploy/k8s/. Listeners bind 0.0.0.0 inside the container
# (VIGIL_BIND) so Prometheus can scrape them; publish ports on 127.0.0.1 only. Beyond loopback a
# process needs VIGIL_LOG_HASH_KEY_FILE, and `ingest --http` VIGIL_INGEST_TOKENS_FILE (README,
# "Authentication and TLS"; deploy/docker-compose.yml and deploy/k8s/ mount both as files).
FROM python:3.11-slim

# pdqhash builds from source (C++) and needs numpy first
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY detectors ./detectors
COPY streams ./streams
COPY schemas ./schemas
RUN pip install --no-cache-dir "numpy>=2.0,<3" && pip install --no-cache-dir . \
 && apt-get purge -y build-essential && apt-get autoremove -y

RUN useradd --system --uid 10001 --home-dir /var/lib/vigil --create-home vigil
USER vigil
ENV VIGIL_BIND=0.0.0.0 \
    VIGIL_STACK_DIR=/var/lib/vigil \
    PYTHONUNBUFFERED=1
EXPOSE 19100 19101 18080 19102 19103 18800
ENTRYPOINT ["vigil"]
CMD ["worker"]
