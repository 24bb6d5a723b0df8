"""Domain values and parsed events. No I/O."""
