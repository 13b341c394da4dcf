"""One partition per import batch: the batch id, added by the inbox sensor or `pipelines imports run`."""

import dagster as dg

import_batch_partitions = dg.DynamicPartitionsDefinition(name="import_batches")
