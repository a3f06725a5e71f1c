"""Campaigns: staff invite a list of numbers to a survey, paced and within daily hours."""
