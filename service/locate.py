"""Old path of :mod:`service.feedback.coordinates`, kept as an alias.

``tests/test_trainer_units.py`` (owned by the trainer work, moved by the integrator)
imports ``line_span`` from here. Remove this module once nothing imports
``service.locate`` (``grep -rn "service.locate\\b"``).
"""

from service.feedback.coordinates import ProgramMap, line_bounds, line_span, line_starts

__all__ = ["ProgramMap", "line_bounds", "line_span", "line_starts"]
