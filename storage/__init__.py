"""The case store: SQLAlchemy 2 async ORM tables, Alembic migrations, and the repository mapping rows to the core."""
