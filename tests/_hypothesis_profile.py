"""The hypothesis settings of the property-based tests: derandomised and bounded.

Kept out of ``conftest.py`` so that it applies only to the modules that import
it (``RELIABLE``), not to the whole suite. ``derandomize=True`` derives every
example from the test's name, so a run is reproducible and needs no example
database; ``max_examples`` keeps the suite fast. Set the environment variable
``SPYKETORCH_HYPOTHESIS_EXAMPLES`` to explore more examples locally.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "spyketorch-reliability",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=int(os.environ.get("SPYKETORCH_HYPOTHESIS_EXAMPLES", "25")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=False,
)

RELIABLE = settings.get_profile("spyketorch-reliability")
