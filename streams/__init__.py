"""The imperative shell: Faust app, stack launcher, ingest, dispatch, CLI."""
