"""`vigil worker`: the batch loop that turns ads.raw into ads.scored, alerts and ads.dlq."""
