"""Media access: the decision nginx asks for, and HLS from disk in development."""
