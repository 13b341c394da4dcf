import dagster as dg

# One partition per tenant, added by the backup-jobs sensor (or a restore) when a tenant is new.
tenants = dg.DynamicPartitionsDefinition(name="tenants")
