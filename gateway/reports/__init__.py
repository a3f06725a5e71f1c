"""Enumerators' field reports about places: flow monitoring counts and site assessments."""
