"""Getting ads onto ads.raw: `vigil ingest FILE`, `vigil ingest --http` and `vigil feed`."""
