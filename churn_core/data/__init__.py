"""Raw tables in, modelling tables out: the demo generator, validation, loading and the SQL ETL."""
