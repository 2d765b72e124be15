"""Steering: negation directions per site (from a probe and from LEACE's eraser) and the choice of sites and strength on
a validation split; the steered model itself is `models.steering`."""

from .directions import SOURCES, fit_directions
from .search import SteerChoice, candidates, search, steering_for

__all__ = ["SOURCES", "SteerChoice", "candidates", "fit_directions", "search", "steering_for"]
