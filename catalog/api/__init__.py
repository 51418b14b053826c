"""The catalog REST API (``/api/v1``): the only layer that knows HTTP statuses for catalog errors."""
