"""The import_batches domain's Definitions (the shared resources come from `pipelines.definitions`)."""

import dagster as dg

from pipelines.import_batches.assets import import_batches, import_batches_not_in_error
from pipelines.import_batches.creators import ImportCreators
from pipelines.import_batches.sensors import import_batches_inbox_sensor

defs = dg.Definitions(
    assets=[import_batches],
    asset_checks=[import_batches_not_in_error],
    sensors=[import_batches_inbox_sensor],
    resources={"import_creators": ImportCreators()},
)
