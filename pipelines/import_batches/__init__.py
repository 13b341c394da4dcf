"""Import batches: pending objects and links created in dependency order (the seed's PendingObjectMain,
PendingLink and awaitingMultipleSteps), resumable, each batch `complete` or `error`."""
