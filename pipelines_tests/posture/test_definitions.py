from pipelines.definitions import defs as load_defs

defs = load_defs()


def test_posture_assets_job_and_daily_schedule_are_in_the_code_location():
    graph = defs.resolve_asset_graph()
    keys = {"responsive_responsibility_aggregate", "lite_dynamic_state_export", "lite_dynamic_state_import"}
    assert keys <= {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {graph.get(dg_key).group_name for dg_key in graph.get_all_asset_keys() if dg_key.to_user_string() in keys} == {"posture"}
    job = defs.resolve_job_def("posture_refresh_export_import")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == keys
    schedule = defs.resolve_schedule_def("posture_daily")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
        "0 4 * * *", "UTC", "posture_refresh_export_import"
    )
