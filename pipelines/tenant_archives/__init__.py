"""Tenant archives: per-tenant RFC-4180 CSV backups tracked by `backup_jobs`, and a verified restore."""
