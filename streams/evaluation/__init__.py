"""The synthetic corpus generator (`vigil generate`), its photo pool, and the evaluation harness (`vigil eval`)."""
