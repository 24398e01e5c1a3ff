"""How ads connect: identifiers over time windows, clusters, and near-duplicate templates."""
