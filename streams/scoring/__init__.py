"""The detectors assembled with their state, for the stream and the batch path.

The Redis link store, stored results and alert suppression (`runtime`, `linkstore`), the
image fetcher (`fetch`), and the batch path `vigil score` (`batch`).
"""
