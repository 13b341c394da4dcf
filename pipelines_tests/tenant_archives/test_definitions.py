import dagster as dg

from pipelines.definitions import defs as load_defs

defs = load_defs()


def test_the_code_location_holds_the_tenant_archive_assets_jobs_and_sensor():
    graph = defs.resolve_asset_graph()
    assert {dg.AssetKey("tenant_archives"), dg.AssetKey("tenant_restore")} <= set(graph.get_all_asset_keys())
    archives = graph.get(dg.AssetKey("tenant_archives"))
    assert archives.partitions_def == dg.DynamicPartitionsDefinition(name="tenants")
    assert archives.group_name == "tenant_archives"
    assert defs.resolve_job_def("tenant_archive_job").name == "tenant_archive_job"
    assert defs.resolve_job_def("tenant_restore_job").name == "tenant_restore_job"
    sensor = defs.resolve_sensor_def("backup_jobs_sensor")
    assert sensor.job_name == "tenant_archive_job"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
