"""`vigil worker`: the Faust app that turns ads.raw into ads.scored, alerts and ads.dlq, and its stall watchdog."""
