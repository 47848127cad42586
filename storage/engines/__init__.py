"""Database engines behind ``storage.db.Database``: ``sqlite`` (the default) and ``postgres``."""
