"""The domain is wired into the code location: its asset, partitions, sensor and creators resource."""

import dagster as dg

from pipelines.definitions import defs as load_defs

defs = load_defs()


def test_the_code_location_has_the_import_batches_asset_sensor_and_resource():
    asset = defs.resolve_assets_def(dg.AssetKey("import_batches"))
    assert asset.partitions_def == dg.DynamicPartitionsDefinition(name="import_batches")
    assert asset.group_names_by_key[asset.key] == "import_batches"
    assert defs.resolve_sensor_def("import_batches_inbox_sensor").name == "import_batches_inbox_sensor"
    assert {"database", "object_store", "import_creators"} <= set(defs.resources)
