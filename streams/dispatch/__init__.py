"""`vigil dispatch`: alerts delivered to signed webhooks.

Also signing and verifying (`webhooks`) and the test receiver `vigil webhook-sink` (`sink`).
"""
