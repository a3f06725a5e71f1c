"""Households' surveys: live conversation state, the runs stored from it, retention of numbers."""
