"""The imperative shell: the worker loop, stack launcher, ingest, dispatch, CLI."""
