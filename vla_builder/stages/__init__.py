"""One file per stage. `default_pipeline` assembles them in order from a recipe."""
