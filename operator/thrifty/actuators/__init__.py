"""actuators layer."""
