"""The text model's training (`vigil model ...`) and analysts' feedback (`vigil feedback`)."""
