"""The ``survey-gateway`` command line."""
