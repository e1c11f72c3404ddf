"""viz: see fundus_utils/__init__.py for the public names."""
