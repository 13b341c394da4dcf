"""What the code location holds, written out once for the tests that load it different ways
(workspace.yaml in-process, `dagster dev`, `dg list defs`)."""

ASSET_GROUPS = {
    "responsive_responsibility_aggregate": "posture",
    "lite_dynamic_state_export": "posture",
    "lite_dynamic_state_import": "posture",
    "study_exports_daily": "study_exports",
    "study_exports_hourly": "study_exports",
    "study_exports_on_request": "study_exports",
    "study_exports_redrives": "study_exports",
    "vex_raw_documents": "vex",
    "vex_statements": "vex",
    "vex_consensus": "vex",
    "vex_rollback": "vex",
    "tenant_archives": "tenant_archives",
    "tenant_restore": "tenant_archives",
    "tenant_archive_retention": "tenant_archives",
    "import_batches": "import_batches",
}
