"""pipelines: one Dagster code location for the platform team's data-movement jobs."""
