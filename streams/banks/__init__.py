"""Photo hash banks in Redis (`vigil bank ...`) and the live copy every worker follows."""
