"""Results: which submissions, the headline report, small-cell suppression and exports."""
