"""Settings every test shares.

Hypothesis: no per-example deadline and no "input generation is slow" health check. Both are
wall-clock limits, and our tests assert behaviour, never time: on a busy 2-core machine they fail
tests whose code is right (speed is measured by the scripts under bench/)."""

from hypothesis import HealthCheck, settings

settings.register_profile("winnodes", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("winnodes")
