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


def test_posture_asset_checks_say_what_they_check():
    graph = defs.resolve_asset_graph()
    posture = {"lite_dynamic_state_export", "lite_dynamic_state_import"}
    checks = {key.name: graph.get_check_spec(key).description
              for key in graph.asset_check_keys if key.asset_key.to_user_string() in posture}
    assert checks == {
        "export_holds_one_object_per_view_row":
            "The stored document, read back, holds one object per row of the view for the requested services.",
        "script_failing_fulfillments_match_imported_objects":
            "Per service, the script-created FAILING fulfillments in the database equal the FAILING objects "
            "imported (plus, for INSERT, those that were there before).",
    }
