"""Reading, validating and holding firm-year panels: schema, readers, mappings, FirmPanel."""
