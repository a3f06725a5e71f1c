"""RQ jobs: small functions that take ids, are idempotent, and let errors raise."""
