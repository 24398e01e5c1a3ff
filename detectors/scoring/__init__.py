"""The text model and the scorer: calibrated risk, severity and the reasons behind it."""
