"""One listener per file, each with register(app, ctx)."""
