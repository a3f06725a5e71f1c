"""Enumerators: registration by SMS and a supervisor's decision on it."""
