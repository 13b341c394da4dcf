"""What every domain shares: settings, the database, the object store, bulk load, CSV."""
